// Package region holds the probation regions of England and Wales as the
// stable codes of docs/design.md §2.
package region

import "slices"

// All lists every region code, in a stable display order.
var All = []string{
	"north-east",
	"north-west",
	"yorkshire-humber",
	"greater-manchester",
	"east-midlands",
	"west-midlands",
	"east-of-england",
	"london",
	"kent-surrey-sussex",
	"south-central",
	"south-west",
	"wales",
}

// Valid reports whether code is one of the region codes.
func Valid(code string) bool {
	return slices.Contains(All, code)
}
