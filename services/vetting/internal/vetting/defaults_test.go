package vetting

import (
	"strings"
	"testing"
)

func TestParseDefaults(t *testing.T) {
	for _, tt := range []struct {
		in, wantErr string
	}{
		{"", ""},
		{" london = vcp-1 , vcp-2 ; wales=vcp-3 ;", ""},
		{"london", `"london": want region=subject,subject`},
		{"atlantis=vcp-1", `"atlantis": unknown region`},
		{"london=vcp-1;london=vcp-2", `"london": region given twice`},
		{"london=jane@justice.example", "region london: must be a staff subject id, not an email address"},
		{"london=system:vetting", "region london: must be a staff subject id, not a service's"},
		{"london=Jane Smith", "region london: must be a staff subject id (letters"},
		{"london=vcp-1,", "region london: is required"},
	} {
		d, err := ParseDefaults(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseDefaults(%q) = %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseDefaults(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
		case tt.wantErr == "" && tt.in != "" && d.For("london", "01a23c15-553d-7ba4-a5b8-315df40fc5bd") == "":
			t.Errorf("ParseDefaults(%q): no default for london", tt.in)
		}
	}
}

// TestDefaultsSpreadAndRepeat: every contact point of a region gets cases,
// the same application always goes to the same one, and a region without
// contact points (or no defaults at all) leaves cases unassigned.
func TestDefaultsSpreadAndRepeat(t *testing.T) {
	d, err := ParseDefaults("london=vcp-1,vcp-2,vcp-3")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i := range 300 {
		id := "01a23c15-553d-7ba4-a5b8-" + strings.Repeat("0", 9) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + "f"
		who := d.For("london", id)
		if who != d.For("london", id) {
			t.Fatalf("application %s assigned to %s, then someone else", id, who)
		}
		got[who]++
	}
	for _, who := range []string{"vcp-1", "vcp-2", "vcp-3"} {
		if got[who] < 50 {
			t.Errorf("%s got %d of 300 cases: %v", who, got[who], got)
		}
	}
	if who := d.For("wales", "x"); who != "" {
		t.Errorf("wales has no contact points but got %q", who)
	}
	var none *Defaults
	if who := none.For("london", "x"); who != "" {
		t.Errorf("no defaults, got %q", who)
	}
}
