package region

import "testing"

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"london", true},
		{"wales", true},
		{"yorkshire-humber", true},
		{"London", false},
		{"scotland", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := Valid(tt.code); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
	if len(All) != 12 {
		t.Errorf("len(All) = %d, want the 12 regions of England and Wales", len(All))
	}
}
