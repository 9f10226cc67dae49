package chart

import (
	"encoding/xml"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestTicks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		max, step, top float64
	}{
		{0, 1, 4},
		{-3, 1, 4},
		{1, 0.5, 1},
		{3, 1, 3},
		{7, 2, 8},
		{10, 5, 10},
		{13, 5, 15},
		{42, 20, 60},
		{99, 50, 100},
		{180, 50, 200},
		{0.3, 0.1, 0.3},
	}
	for _, tt := range tests {
		step, top := Ticks(tt.max)
		if !near(step, tt.step) || !near(top, tt.top) {
			t.Errorf("Ticks(%v) = %v, %v; want %v, %v", tt.max, step, top, tt.step, tt.top)
		}
		if top < tt.max {
			t.Errorf("Ticks(%v): top %v is below the data", tt.max, top)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// wellFormed parses svg as XML and returns the text of its elements by
// name, failing on malformed markup (an unescaped label, say).
func wellFormed(t *testing.T, svg string) map[string][]string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	out := map[string][]string{}
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				name := stack[len(stack)-1]
				out[name] = append(out[name], string(tok))
			}
		}
	}
	return out
}

func TestBarChart(t *testing.T) {
	t.Parallel()
	c := BarChart{ID: "funnel", Title: "Reached <each> stage", Desc: "Bars & numbers",
		Bars: []Bar{{"Sift", 200, "200"}, {"Interview", 50, "50"}, {"Offer", 0, "0"}, {"Pre-employment", 1, "1"}}}
	svg := string(c.SVG())
	text := wellFormed(t, svg)
	if got := text["title"]; len(got) != 1 || got[0] != "Reached <each> stage" {
		t.Errorf("title = %q", got)
	}
	if got := text["desc"]; len(got) != 1 || got[0] != "Bars & numbers" {
		t.Errorf("desc = %q", got)
	}
	if !strings.Contains(svg, `role="img"`) || !strings.Contains(svg, `aria-labelledby="funnel-title funnel-desc"`) {
		t.Errorf("the SVG does not name its title and description:\n%s", svg)
	}
	widths := regexp.MustCompile(`<rect [^>]*width="([0-9.]+)"`).FindAllStringSubmatch(svg, -1)
	if len(widths) != 4 {
		t.Fatalf("%d bars drawn, want 4", len(widths))
	}
	w := make([]float64, 4)
	for i, m := range widths {
		w[i], _ = strconv.ParseFloat(m[1], 64)
	}
	if full := float64(width - barLabelW - barValueW); !near(w[0], full) {
		t.Errorf("the largest bar is %v wide, want the full %v", w[0], full)
	}
	if !near(w[1], w[0]/4) {
		t.Errorf("bar of 50 is %v wide, want a quarter of %v", w[1], w[0])
	}
	if w[2] != 0 {
		t.Errorf("a zero bar is %v wide", w[2])
	}
	if w[3] < 2 {
		t.Errorf("a small non-zero bar is %v wide, want at least a visible sliver", w[3])
	}
	if got := text["text"]; !slices.Contains(got, "Pre-employment") || !slices.Contains(got, "200") {
		t.Errorf("labels and values missing: %q", got)
	}
}

func TestBarChartEmpty(t *testing.T) {
	t.Parallel()
	svg := string(BarChart{ID: "x", Title: "T", Desc: "D"}.SVG())
	if !slices.Contains(wellFormed(t, svg)["text"], "No data yet") {
		t.Errorf("empty chart says nothing:\n%s", svg)
	}
}

func TestLineChart(t *testing.T) {
	t.Parallel()
	points := []Point{{Label: "3 Nov", Value: 10, Text: "10 days"}, {Label: "10 Nov", Value: 20, Text: "20 days"}, {Label: "17 Nov", Value: 15, Text: "15 days"}}
	svg := string(LineChart{ID: "trend", Title: "Trend", Desc: "Weekly", YLabel: "days", Points: points}.SVG())
	text := wellFormed(t, svg)
	m := regexp.MustCompile(`<path d="([^"]+)"`).FindStringSubmatch(svg)
	if m == nil {
		t.Fatalf("no line drawn:\n%s", svg)
	}
	cmds := regexp.MustCompile(`[ML]([0-9.]+) ([0-9.]+)`).FindAllStringSubmatch(m[1], -1)
	if len(cmds) != 3 {
		t.Fatalf("line through %d points, want 3: %s", len(cmds), m[1])
	}
	y := func(i int) float64 { v, _ := strconv.ParseFloat(cmds[i][2], 64); return v }
	// SVG y grows downwards: the highest value is the smallest y.
	if !(y(1) < y(2) && y(2) < y(0)) {
		t.Errorf("points out of order vertically: %s", m[1])
	}
	// Each point names its week and value for a pointer user.
	if !slices.Contains(text["title"], "10 Nov: 20 days") {
		t.Errorf("point titles = %q", text["title"])
	}
	if !slices.Contains(text["text"], "17 Nov") || !slices.Contains(text["text"], "days") {
		t.Errorf("axis labels = %q", text["text"])
	}
}

func TestLineChartBreaksAtMissingPoints(t *testing.T) {
	t.Parallel()
	points := []Point{{"3 Nov", 10, "10 days", false}, {"10 Nov", 0, "", true}, {"17 Nov", 15, "15 days", false}, {"24 Nov", 12, "12 days", false}}
	svg := string(LineChart{ID: "gap", Title: "T", Desc: "D", Points: points}.SVG())
	text := wellFormed(t, svg)
	d := regexp.MustCompile(`<path d="([^"]+)"`).FindStringSubmatch(svg)[1]
	if got := regexp.MustCompile(`[ML]`).FindAllString(d, -1); !slices.Equal(got, []string{"M", "M", "L"}) {
		t.Errorf("path %q: commands %v, want a break at the missing week (M M L)", d, got)
	}
	if n := strings.Count(svg, "<circle"); n != 3 {
		t.Errorf("%d points drawn, want 3", n)
	}
	// The missing week keeps its place: the x of 17 Nov is two steps from 3 Nov.
	xs := regexp.MustCompile(`[ML]([0-9.]+) `).FindAllStringSubmatch(d, -1)
	x0, _ := strconv.ParseFloat(xs[0][1], 64)
	x2, _ := strconv.ParseFloat(xs[1][1], 64)
	x3, _ := strconv.ParseFloat(xs[2][1], 64)
	if math.Abs((x2-x0)-2*(x3-x2)) > 0.05 { // coordinates are printed to 2 decimals
		t.Errorf("x positions %v, %v, %v: the gap lost its place", x0, x2, x3)
	}
	if !slices.Contains(text["text"], "10 Nov") {
		t.Errorf("the missing week lost its label: %q", text["text"])
	}
	allMissing := string(LineChart{ID: "none", Title: "T", Desc: "D", Points: []Point{{Label: "3 Nov", Missing: true}}}.SVG())
	if !slices.Contains(wellFormed(t, allMissing)["text"], "No data yet") {
		t.Errorf("a chart of missing points only says nothing:\n%s", allMissing)
	}
}

func TestLineChartOnePointAndNone(t *testing.T) {
	t.Parallel()
	one := string(LineChart{ID: "a", Title: "T", Desc: "D", Points: []Point{{Label: "3 Nov", Value: 4, Text: "4 days"}}}.SVG())
	wellFormed(t, one)
	if strings.Count(one, "<circle") != 1 {
		t.Errorf("one point drawn %d times", strings.Count(one, "<circle"))
	}
	none := string(LineChart{ID: "b", Title: "T", Desc: "D"}.SVG())
	if !slices.Contains(wellFormed(t, none)["text"], "No data yet") {
		t.Errorf("empty line chart says nothing:\n%s", none)
	}
}

func TestIDIsCleaned(t *testing.T) {
	t.Parallel()
	svg := string(BarChart{ID: `a"b <c>`, Title: "T", Desc: "D"}.SVG())
	wellFormed(t, svg)
	if !strings.Contains(svg, `id="a-b--c--title"`) {
		t.Errorf("id not cleaned:\n%s", svg)
	}
}
