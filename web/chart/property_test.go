package chart_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/web/chart"
)

// expect is what a chart must show, worked out from its input independently
// of the renderer: the tooltip of every mark, in drawing order (series by
// series, along the axis), and the table's rows.
type expect struct {
	empty    bool
	tooltips []string
	rows     int // the table's body rows
	cols     int // cells per row: the label and one per series
}

// dayCase is a chart over days with what it must show.
type dayCase struct {
	name    string
	kind    string // "lines", "rates" or "bars"
	days    chart.DayAxis
	value   chart.Axis
	missing chart.Missing
	stacked bool
	series  []chart.Series
}

func (c dayCase) chart() chart.Chart {
	f := chart.Frame{Title: "T " + c.name, NoData: "no data", Desc: "about " + c.name}
	switch c.kind {
	case "rates":
		return &chart.RateSeries{Frame: f, Days: c.days, Value: c.value, Missing: c.missing, Series: c.series}
	case "bars":
		return &chart.DayBars{Frame: f, Days: c.days, Value: c.value, Missing: c.missing, Stacked: c.stacked, Series: c.series}
	}
	return &chart.TimeSeries{Frame: f, Days: c.days, Value: c.value, Missing: c.missing, Series: c.series}
}

func (c dayCase) expect() expect {
	var first, last time.Time
	for _, s := range c.series {
		for _, p := range s.Points {
			d, _ := time.Parse(time.DateOnly, p.Day)
			if first.IsZero() || d.Before(first) {
				first = d
			}
			if last.IsZero() || d.After(last) {
				last = d
			}
		}
	}
	if c.days.From != "" {
		first, _ = time.Parse(time.DateOnly, c.days.From)
	}
	if c.days.To != "" {
		last, _ = time.Parse(time.DateOnly, c.days.To)
	}
	e := expect{empty: true, cols: 1 + len(c.series)}
	if first.IsZero() || last.IsZero() {
		return e
	}
	n := int(last.Sub(first).Hours()/24) + 1
	f := c.value.Format
	if f == nil && c.kind == "rates" {
		f = chart.Percent(2)
	}
	if f == nil {
		f = plainFormat
	}
	for _, s := range c.series {
		byDay := map[string]float64{}
		for _, p := range s.Points {
			byDay[p.Day] = p.Value
		}
		for i := range n {
			d := first.AddDate(0, 0, i).Format(time.DateOnly)
			v, ok := byDay[d]
			if ok {
				e.empty = false
			} else if c.missing == chart.Zero {
				v, ok = 0, true
			}
			if ok {
				e.tooltips = append(e.tooltips, tip(s.Name, d, f(v)))
			}
		}
	}
	if e.empty {
		e.tooltips = nil
	} else {
		e.rows = n
	}
	return e
}

// plainFormat is the default format as a reader sees it: the shortest
// decimal that reads back as the value, its whole part grouped by threes.
func plainFormat(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	if frac != "" {
		whole += "." + frac
	}
	return sign + whole
}

func tip(series, x, value string) string {
	series = strings.TrimSpace(series)
	if series == "" {
		return x + ": " + value
	}
	return series + ", " + x + ": " + value
}

// check renders c and checks its SVG and table against e.
func check(t *testing.T, name string, c chart.Chart, e expect) {
	t.Helper()
	var svg, table bytes.Buffer
	if err := c.WriteSVG(&svg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := c.WriteTable(&table); err != nil {
		t.Fatalf("%s: table: %v", name, err)
	}
	r, err := inspectSVG(svg.Bytes())
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, svg.String())
	}
	if r.noData != e.empty {
		t.Fatalf("%s: no-data state %v, want %v", name, r.noData, e.empty)
	}
	var got []string
	for _, m := range r.marks {
		got = append(got, m.children[0].text)
	}
	for i := range max(len(got), len(e.tooltips)) {
		if i >= len(got) || i >= len(e.tooltips) || got[i] != e.tooltips[i] {
			t.Fatalf("%s: %d tooltips, want %d; the first that differs, number %d:\n got %q\nwant %q",
				name, len(got), len(e.tooltips), i, at(got, i), at(e.tooltips, i))
		}
	}
	_, _, rows, err := inspectTable(table.Bytes())
	if err != nil {
		t.Fatalf("%s: table: %v\n%s", name, err, table.String())
	}
	if e.empty {
		if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] != "no data" {
			t.Fatalf("%s: the empty table is %q", name, rows)
		}
		return
	}
	if len(rows) != e.rows {
		t.Fatalf("%s: %d table rows, want %d", name, len(rows), e.rows)
	}
	for _, row := range rows {
		if len(row) != e.cols {
			t.Fatalf("%s: a table row has %d cells, want %d: %q", name, len(row), e.cols, row)
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

func pts(from string, values ...float64) []chart.Point {
	d, _ := time.Parse(time.DateOnly, from)
	var out []chart.Point
	for i, v := range values {
		out = append(out, chart.Point{Day: d.AddDate(0, 0, i).Format(time.DateOnly), Value: v})
	}
	return out
}

// TestEdgeCases draws the cases where axes and layouts tend to break: one
// point, a single day, all zeros, only negatives, values as large as int64
// amounts and beyond, tiny fractions, empty series, points outside the days
// shown, the most series. Each must give well-formed SVG with no NaN or Inf,
// every mark inside the plot with its exact value as tooltip, and a table of
// the same data.
func TestEdgeCases(t *testing.T) {
	one := []chart.Series{{Name: "a", Points: pts("2026-03-01", 5)}}
	cases := []dayCase{
		{name: "one point", series: one},
		{name: "one point bars", kind: "bars", series: one},
		{name: "one point rates", kind: "rates", series: []chart.Series{{Points: pts("2026-03-01", 0.5)}}},
		{name: "one point fit", value: chart.Axis{Fit: true}, series: one},
		{name: "one point in a window", days: chart.DayAxis{From: "2026-02-01", To: "2026-03-31"}, series: one},
		{name: "single day", days: chart.DayAxis{From: "2026-03-01", To: "2026-03-01"}, series: one},
		{name: "all zeros", series: []chart.Series{{Name: "z", Points: pts("2026-03-01", 0, 0, 0, 0)}}},
		{name: "all zeros fit", value: chart.Axis{Fit: true, Integer: true}, series: []chart.Series{{Points: pts("2026-03-01", 0, 0)}}},
		{name: "all zeros bars", kind: "bars", series: []chart.Series{{Points: pts("2026-03-01", 0, 0, 0)}}},
		{name: "all zeros rates", kind: "rates", series: []chart.Series{{Points: pts("2026-03-01", 0, 0, 0)}}},
		{name: "negative", series: []chart.Series{{Points: pts("2026-03-01", -5, -12.5, -3)}}},
		{name: "negative fit", value: chart.Axis{Fit: true}, series: []chart.Series{{Points: pts("2026-03-01", -5, -12.5, -3)}}},
		{name: "negative bars", kind: "bars", series: []chart.Series{{Points: pts("2026-03-01", -5, -12.5, -3)}}},
		{name: "mixed signs stacked", kind: "bars", stacked: true, series: []chart.Series{
			{Name: "a", Points: pts("2026-03-01", 5, -3, 4)}, {Name: "b", Points: pts("2026-03-01", -2, -3, 6)}}},
		{name: "int64 amounts", value: chart.Axis{Format: chart.Money("¥", 2)}, series: []chart.Series{
			{Points: pts("2026-03-01", math.MaxInt64, 0, math.MinInt64)}}},
		{name: "the largest values", kind: "bars", series: []chart.Series{{Points: pts("2026-03-01", 1e21, -1e21)}}},
		{name: "huge and flat", value: chart.Axis{Fit: true}, series: []chart.Series{{Points: pts("2026-03-01", 9e18, 9e18, 9e18)}}},
		{name: "huge counts", value: chart.Axis{Integer: true, Format: chart.Count}, series: []chart.Series{{Points: pts("2026-03-01", 3e15, 1)}}},
		{name: "tiny fractions", series: []chart.Series{{Points: pts("2026-03-01", 1e-9, 3e-9, 2e-9)}}},
		{name: "tiny rates", kind: "rates", series: []chart.Series{{Points: pts("2026-03-01", 1e-7, 0, 2e-7)}}},
		{name: "no series"},
		{name: "an empty series", series: []chart.Series{{Name: "a"}}},
		{name: "empty series in a window", days: chart.DayAxis{From: "2026-03-01", To: "2026-03-30"}, missing: chart.Zero,
			series: []chart.Series{{Name: "a"}, {Name: "b"}}},
		{name: "points outside the window", days: chart.DayAxis{From: "2026-04-01", To: "2026-04-30"}, series: one},
		{name: "only To, every point after it", days: chart.DayAxis{To: "2026-02-01"}, series: one},
		{name: "only From", days: chart.DayAxis{From: "2026-02-25"}, series: one},
		{name: "only To", kind: "bars", days: chart.DayAxis{To: "2026-03-09"}, missing: chart.Zero, series: one},
		{name: "one empty, one not", series: []chart.Series{{Name: "a"}, {Name: "b", Points: pts("2026-03-01", 1, 2)}}},
		{name: "gaps", series: []chart.Series{{Points: []chart.Point{{Day: "2026-03-01", Value: 1}, {Day: "2026-03-05", Value: 4}}}}},
		{name: "gaps connected", missing: chart.Connect, series: []chart.Series{{Points: []chart.Point{{Day: "2026-03-01", Value: 1}, {Day: "2026-03-05", Value: 4}}}}},
		{name: "gaps as zeros", kind: "bars", missing: chart.Zero, series: []chart.Series{{Points: []chart.Point{{Day: "2026-03-01", Value: 1}, {Day: "2026-03-05", Value: 4}}}}},
		{name: "points in any order", series: []chart.Series{{Points: []chart.Point{{Day: "2026-03-03", Value: 3}, {Day: "2026-03-01", Value: 1}}}}},
		{name: "ten years", days: chart.DayAxis{From: "2016-04-03", To: "2026-03-31"}, series: one},
		{name: "six series", missing: chart.Zero, series: func() []chart.Series {
			var out []chart.Series
			for i := range chart.MaxSeries {
				out = append(out, chart.Series{Name: fmt.Sprint("s", i), Points: pts("2026-03-01", float64(i), float64(2*i))})
			}
			return out
		}()},
		{name: "six series bars", kind: "bars", series: func() []chart.Series {
			var out []chart.Series
			for i := range chart.MaxSeries {
				out = append(out, chart.Series{Name: fmt.Sprint("s", i), Points: pts("2026-03-01", float64(i), float64(-i))})
			}
			return out
		}()},
		{name: "blank titles, blank labels", days: chart.DayAxis{Title: " ", Short: func(time.Time) string { return " " }},
			value:  chart.Axis{Title: "  ", Format: func(float64) string { return "" }},
			series: []chart.Series{{Name: " ", Points: pts("2026-03-01", 1, 2)}}},
		{name: "blank titles, bars", kind: "bars", days: chart.DayAxis{Title: " "}, value: chart.Axis{Title: "  "},
			series: []chart.Series{{Name: "\t", Points: pts("2026-03-01", 1)}}},
		{name: "long labels", days: chart.DayAxis{Short: func(d time.Time) string { return d.Format("Monday, 2 January 2006") }},
			value:  chart.Axis{Title: strings.Repeat("A very long axis title ", 10), Format: func(v float64) string { return strings.Repeat("x", 80) }},
			series: []chart.Series{{Name: strings.Repeat("long name ", 20), Points: pts("2026-03-01", 1, 2)}, {Name: "b", Points: pts("2026-03-01", 2, 1)}}},
	}
	for _, c := range cases {
		check(t, c.name, c.chart(), c.expect())
	}
}

// categoryCase is a category chart with what it must show.
func categoryExpect(c *chart.CategoryBars) expect {
	e := expect{empty: len(c.Categories) == 0 || len(c.Series) == 0, cols: 1 + len(c.Series)}
	if e.empty {
		return e
	}
	f := c.Value.Format
	if f == nil {
		f = plainFormat
	}
	for _, s := range c.Series {
		for j, v := range s.Values {
			e.tooltips = append(e.tooltips, tip(s.Name, c.Categories[j], f(v)))
		}
	}
	e.rows = len(c.Categories)
	return e
}

func TestCategoryEdgeCases(t *testing.T) {
	frame := chart.Frame{Title: "Portfolio", NoData: "no data"}
	cases := map[string]*chart.CategoryBars{
		"no categories":   {Frame: frame, Series: []chart.CategorySeries{{Name: "a"}}},
		"no series":       {Frame: frame, Categories: []string{"A", "B"}},
		"one value":       {Frame: frame, Categories: []string{"A"}, Series: []chart.CategorySeries{{Values: []float64{7}}}},
		"all zeros":       {Frame: frame, Categories: []string{"A", "B"}, Series: []chart.CategorySeries{{Name: "x", Values: []float64{0, 0}}, {Name: "y", Values: []float64{0, 0}}}},
		"negative":        {Frame: frame, Categories: []string{"A", "B"}, Series: []chart.CategorySeries{{Values: []float64{-7, -1}}}},
		"mixed stacked":   {Frame: frame, Stacked: true, Categories: []string{"A", "B"}, Series: []chart.CategorySeries{{Name: "x", Values: []float64{5, -2}}, {Name: "y", Values: []float64{-3, 4}}}},
		"huge":            {Frame: frame, Categories: []string{"A", "B"}, Series: []chart.CategorySeries{{Values: []float64{math.MaxInt64, 1}}}},
		"largest stacked": {Frame: frame, Stacked: true, Categories: []string{"A"}, Series: []chart.CategorySeries{{Name: "x", Values: []float64{1e21}}, {Name: "y", Values: []float64{1e21}}}},
		"blank titles": {Frame: frame, CategoryTitle: " ", Value: chart.Axis{Title: " "},
			Categories: []string{"A", "B"}, Series: []chart.CategorySeries{{Name: " ", Values: []float64{1, 2}}}},
		"long names": {Frame: frame, Categories: []string{strings.Repeat("很长的产品名称", 12), strings.Repeat("word ", 40)},
			Series: []chart.CategorySeries{{Values: []float64{1, 2}}}},
		"many categories": {Frame: frame, Categories: func() []string {
			var out []string
			for i := range chart.MaxCategories {
				out = append(out, fmt.Sprint("C", i))
			}
			return out
		}(), Series: []chart.CategorySeries{{Values: make([]float64, chart.MaxCategories)}}},
		"six series grouped": {Frame: frame, Categories: []string{"A", "B"}, Series: func() []chart.CategorySeries {
			var out []chart.CategorySeries
			for i := range chart.MaxSeries {
				out = append(out, chart.CategorySeries{Name: fmt.Sprint("s", i), Values: []float64{float64(i), 1}})
			}
			return out
		}()},
	}
	for name, c := range cases {
		check(t, name, c, categoryExpect(c))
	}
}

// TestRandomCharts draws many charts with random shapes and values (from a
// fixed seed, so a failure repeats) and checks the same properties.
func TestRandomCharts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	magnitudes := []float64{1e-6, 0.01, 1, 100, 1e4, 1e8, 1e12, 9e18}
	value := func(m float64, integer bool) float64 {
		v := (rng.Float64()*2 - 0.6) * m
		if integer {
			v = math.Round(v)
		}
		return v
	}
	for i := range 250 {
		m := magnitudes[rng.IntN(len(magnitudes))]
		integer := rng.IntN(3) == 0
		axis := chart.Axis{Integer: integer, Fit: rng.IntN(3) == 0}
		if rng.IntN(2) == 0 {
			axis.Format = chart.Money("¥", 2)
		}
		if rng.IntN(3) == 0 {
			frame := chart.Frame{Title: fmt.Sprint("random ", i), NoData: "no data", Width: 160 + rng.IntN(800), Height: rng.IntN(500)}
			n := rng.IntN(12)
			c := &chart.CategoryBars{Frame: frame, Value: axis, Stacked: rng.IntN(2) == 0}
			for j := range n {
				c.Categories = append(c.Categories, fmt.Sprint("category ", j))
			}
			for k := range rng.IntN(chart.MaxSeries + 1) {
				s := chart.CategorySeries{Name: fmt.Sprint("series ", k)}
				for range n {
					s.Values = append(s.Values, value(m, integer))
				}
				c.Series = append(c.Series, s)
			}
			check(t, fmt.Sprint("random ", i), c, categoryExpect(c))
			continue
		}
		c := dayCase{name: fmt.Sprint(i), kind: []string{"lines", "rates", "bars"}[rng.IntN(3)], value: axis,
			missing: chart.Missing(rng.IntN(2)), stacked: rng.IntN(2) == 0}
		if c.kind == "lines" && rng.IntN(2) == 0 {
			c.missing = chart.Connect
		}
		days := 1 + rng.IntN(200)
		if rng.IntN(2) == 0 {
			c.days.From = start.Format(time.DateOnly)
			c.days.To = start.AddDate(0, 0, days-1).Format(time.DateOnly)
		}
		for k := range rng.IntN(chart.MaxSeries + 1) {
			s := chart.Series{Name: fmt.Sprint("series ", k)}
			for d := range days + 10 { // some points fall outside From…To
				if rng.IntN(4) == 0 {
					continue
				}
				s.Points = append(s.Points, chart.Point{Day: start.AddDate(0, 0, d-5).Format(time.DateOnly), Value: value(m, integer)})
			}
			c.series = append(c.series, s)
		}
		check(t, fmt.Sprint("random ", i, " ", c.kind), c.chart(), c.expect())
	}
}

// TestFixtures checks the dashboards' charts, whose golden files hold their
// exact output, for the same properties.
func TestFixtures(t *testing.T) {
	for _, f := range fixtures() {
		var b bytes.Buffer
		if err := f.chart.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		r, err := inspectSVG(b.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if f.name != "no-data" && (r.noData || len(r.marks) == 0) {
			t.Errorf("%s: nothing drawn", f.name)
		}
	}
}
