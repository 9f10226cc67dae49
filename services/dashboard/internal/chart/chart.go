// Package chart draws small SVG charts on the server: a horizontal bar
// chart and a line chart. Each SVG is one image to assistive technology
// (role="img" with a <title> and a <desc> naming what it shows); pages put a
// data table beside every chart, so nothing is only in the picture.
package chart

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Sizes are in SVG user units; the page scales the image to its column.
const (
	width     = 640
	barRow    = 34
	barHeight = 22
	barLabelW = 180 // room for "Pre-employment checks"
	barValueW = 90  // room for the value printed after a bar
	lineH     = 260
	lineLeft  = 52
	lineRight = 20
	lineTop   = 16
	lineBot   = 56
)

// Bar is one bar: a label, a value that sets its length, and the value as
// the page prints it (e.g. "12 days").
type Bar struct {
	Label string
	Value float64
	Text  string
}

// BarChart is a horizontal bar chart. ID must be unique in the page: it
// names the title and description the image points to.
type BarChart struct {
	ID, Title, Desc string
	Bars            []Bar
}

// SVG renders the chart.
func (c BarChart) SVG() template.HTML {
	h := len(c.Bars)*barRow + 8
	if len(c.Bars) == 0 {
		h = 40
	}
	var b strings.Builder
	open(&b, c.ID, c.Title, c.Desc, width, h)
	if len(c.Bars) == 0 {
		fmt.Fprintf(&b, `<text x="0" y="24" class="chart-empty">No data yet</text>`)
	}
	maxV := 0.0
	for _, bar := range c.Bars {
		maxV = math.Max(maxV, bar.Value)
	}
	span := float64(width - barLabelW - barValueW)
	for i, bar := range c.Bars {
		y := i*barRow + 4
		w := 0.0
		if maxV > 0 && bar.Value > 0 {
			// A sliver for a small non-zero value, so it does not read as zero.
			w = math.Max(2, span*bar.Value/maxV)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="chart-label" text-anchor="end">%s</text>`,
			barLabelW-8, y+barHeight/2+5, esc(bar.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%d" class="chart-bar"></rect>`,
			barLabelW, y, num(w), barHeight)
		fmt.Fprintf(&b, `<text x="%s" y="%d" class="chart-value">%s</text>`,
			num(float64(barLabelW)+w+6), y+barHeight/2+5, esc(bar.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Point is one point of a line: its x label, its value, and the value as
// the page prints it. A Missing point (a week with no data) keeps its place
// on the x axis and breaks the line, so a gap never reads as a trend.
type Point struct {
	Label   string
	Value   float64
	Text    string
	Missing bool
}

// LineChart is a line over evenly spaced points (e.g. weeks), with a y axis
// from zero. ID must be unique in the page.
type LineChart struct {
	ID, Title, Desc string
	// YLabel names the unit of the y axis, e.g. "days".
	YLabel string
	Points []Point
}

// SVG renders the chart.
func (c LineChart) SVG() template.HTML {
	var b strings.Builder
	open(&b, c.ID, c.Title, c.Desc, width, lineH)
	maxV, drawn := 0.0, false
	for _, p := range c.Points {
		if !p.Missing {
			maxV, drawn = math.Max(maxV, p.Value), true
		}
	}
	if !drawn {
		fmt.Fprintf(&b, `<text x="0" y="24" class="chart-empty">No data yet</text></svg>`)
		return template.HTML(b.String())
	}
	step, top := Ticks(maxV)
	plotW := float64(width - lineLeft - lineRight)
	plotH := float64(lineH - lineTop - lineBot)
	y := func(v float64) float64 { return float64(lineTop) + plotH - plotH*v/top }
	x := func(i int) float64 {
		if len(c.Points) == 1 {
			return float64(lineLeft) + plotW/2
		}
		return float64(lineLeft) + plotW*float64(i)/float64(len(c.Points)-1)
	}

	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" class="chart-grid"></line>`,
			lineLeft, width-lineRight, num(y(v)), num(y(v)))
		fmt.Fprintf(&b, `<text x="%d" y="%s" class="chart-tick" text-anchor="end">%s</text>`,
			lineLeft-6, num(y(v)+4), num(v))
	}
	if c.YLabel != "" {
		fmt.Fprintf(&b, `<text x="0" y="%d" class="chart-tick">%s</text>`, lineTop-4, esc(c.YLabel))
	}
	// Label at most about eight points, so labels never overlap.
	every := (len(c.Points) + 7) / 8
	for i, p := range c.Points {
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%s" y="%d" class="chart-tick" text-anchor="middle">%s</text>`,
				num(x(i)), lineH-lineBot+20, esc(p.Label))
		}
	}

	var path strings.Builder
	penDown := false
	for i, p := range c.Points {
		if p.Missing {
			penDown = false
			continue
		}
		cmd := "L"
		if !penDown {
			cmd = "M"
		}
		penDown = true
		fmt.Fprintf(&path, "%s%s %s ", cmd, num(x(i)), num(y(p.Value)))
	}
	fmt.Fprintf(&b, `<path d="%s" class="chart-line"></path>`, strings.TrimSpace(path.String()))
	for i, p := range c.Points {
		if p.Missing {
			continue
		}
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="4" class="chart-point"><title>%s: %s</title></circle>`,
			num(x(i)), num(y(p.Value)), esc(p.Label), esc(p.Text))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// Ticks chooses the step between y axis lines (1, 2 or 5 times a power of
// ten, about four steps) and the top of the axis, a multiple of the step at
// or above maxV.
func Ticks(maxV float64) (step, top float64) {
	if maxV <= 0 {
		return 1, 4
	}
	raw := maxV / 4
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * pow
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	return step, math.Ceil(maxV/step) * step
}

func open(b *strings.Builder, id, title, desc string, w, h int) {
	id = cleanID(id)
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 %d %d" aria-labelledby="%s-title %s-desc">`,
		w, h, id, id)
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(title), id, esc(desc))
}

// cleanID keeps an id to letters, digits and hyphens, so it is safe in an
// attribute and as an IDREF.
func cleanID(id string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 {
		return "chart"
	}
	return b.String()
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// num prints a coordinate or tick with at most two decimals.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
