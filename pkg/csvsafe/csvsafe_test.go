package csvsafe_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/probation-recruitment/pipeline/pkg/csvsafe"
)

// formulaLike is what a spreadsheet would evaluate: a cell, as read back,
// that starts with a trigger character.
func formulaLike(cell string) bool {
	return cell != "" && strings.ContainsRune("=+-@\t\r\n", rune(cell[0]))
}

func TestWriterNeutralisesEveryPayload(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := csvsafe.NewWriter(&buf)
	for _, p := range csvsafe.Payloads {
		if err := w.Write([]string{"id-1", p, "a;" + p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("output is not CSV: %v\n%s", err, buf.String())
	}
	if len(rows) != len(csvsafe.Payloads) {
		t.Fatalf("read %d rows, want %d", len(rows), len(csvsafe.Payloads))
	}
	for i, p := range csvsafe.Payloads {
		got := rows[i][1]
		if formulaLike(got) || got != "'"+p {
			t.Errorf("payload %q written as %q, want %q", p, got, "'"+p)
		}
		if csvsafe.Plain(got) != p {
			t.Errorf("Plain(%q) = %q, want %q", got, csvsafe.Plain(got), p)
		}
		if rows[i][2] != "a;"+p {
			t.Errorf("cell %q read back as %q", "a;"+p, rows[i][2])
		}
	}
	// A spreadsheet splitting on ; must not find a cell starting =: every
	// cell holding a ; is in quotes.
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if strings.Contains(line, ";=") && !strings.Contains(line, `"a;=`) {
			t.Errorf("unquoted ; before a formula in %q", line)
		}
	}
}

func TestNumbersAndTextStayAsTheyAre(t *testing.T) {
	t.Parallel()
	cells := []string{"-12", "-0.25", "0", "42", "3.5", "Ada Lovelace", "london", "", "O'Brien", "2026-12-03T09:00:00Z", "07700 900123"}
	var buf bytes.Buffer
	w := csvsafe.NewWriter(&buf)
	if err := w.WriteAll([][]string{cells}); err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(cells, ",") + "\n"; buf.String() != want {
		t.Errorf("wrote %q, want %q", buf.String(), want)
	}
	for _, c := range cells {
		if csvsafe.Risky(c) || csvsafe.Plain(c) != c {
			t.Errorf("%q: Risky %v, Plain %q", c, csvsafe.Risky(c), csvsafe.Plain(c))
		}
	}
}

func TestMatchesEncodingCSVForOrdinaryText(t *testing.T) {
	t.Parallel()
	records := [][]string{{"a", "b,c", `say "hi"`, " lead", "two\nlines", ""}, {"x"}}
	var got, want bytes.Buffer
	if err := csvsafe.NewWriter(&got).WriteAll(records); err != nil {
		t.Fatal(err)
	}
	cw := csv.NewWriter(&want)
	_ = cw.WriteAll(records)
	if got.String() != want.String() {
		t.Errorf("wrote %q, encoding/csv %q", got.String(), want.String())
	}
	r := csv.NewReader(&got)
	r.FieldsPerRecord = -1
	back, err := r.ReadAll()
	if err != nil || len(back) != 2 || !slices.Equal(back[0], records[0]) {
		t.Errorf("read back %q, %v", back, err)
	}
}

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, bytes.ErrTooLarge }

func TestWriteErrorsReachTheCaller(t *testing.T) {
	t.Parallel()
	w := csvsafe.NewWriter(failing{})
	_ = w.Write([]string{"a"})
	if err := w.Flush(); err == nil {
		t.Error("Flush on a failing writer returned nil")
	}
}
