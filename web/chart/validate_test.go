package chart_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/web/chart"
)

// TestInvalid checks that a chart a page built wrongly is refused with a
// dataport.Error of KindInvalid naming the field, and that nothing is written
// into the page.
func TestInvalid(t *testing.T) {
	ok := chart.Frame{Title: "t", NoData: "none"}
	s := func(points ...chart.Point) []chart.Series { return []chart.Series{{Name: "a", Points: points}} }
	p := func(day string, v float64) chart.Point { return chart.Point{Day: day, Value: v} }
	seven := make([]chart.Series, 7)
	for i := range seven {
		seven[i].Name = "s"
	}
	cases := []struct {
		name  string
		chart chart.Chart
		field string
	}{
		{"no title", &chart.TimeSeries{Frame: chart.Frame{NoData: "x"}}, "title"},
		{"no no-data text", &chart.DayBars{Frame: chart.Frame{Title: "x"}}, "no_data"},
		{"a blank title", &chart.CategoryBars{Frame: chart.Frame{Title: " \n", NoData: "x"}}, "title"},
		{"a blank no-data text", &chart.RateSeries{Frame: chart.Frame{Title: "x", NoData: "\t"}}, "no_data"},
		{"blank series names", &chart.TimeSeries{Frame: ok, Series: []chart.Series{{Name: "a"}, {Name: "  "}}}, "series[1].name"},
		{"blank category series names", &chart.CategoryBars{Frame: ok, Series: []chart.CategorySeries{{Name: " "}, {Name: "b"}}}, "series[0].name"},
		{"a blank category", &chart.CategoryBars{Frame: ok, Categories: []string{"A", " "}}, "categories[1]"},
		{"bad id", &chart.TimeSeries{Frame: chart.Frame{Title: "t", NoData: "n", ID: `x" onload="alert(1)`}}, "id"},
		{"id starting with a digit", &chart.TimeSeries{Frame: chart.Frame{Title: "t", NoData: "n", ID: "1chart"}}, "id"},
		{"negative width", &chart.TimeSeries{Frame: chart.Frame{Title: "t", NoData: "n", Width: -1}}, "width"},
		{"huge height", &chart.CategoryBars{Frame: chart.Frame{Title: "t", NoData: "n", Height: 1e6}}, "height"},
		{"NaN", &chart.TimeSeries{Frame: ok, Series: s(p("2026-03-01", math.NaN()))}, "series[0].points[0].value"},
		{"Inf", &chart.RateSeries{Frame: ok, Series: s(p("2026-03-01", 1), p("2026-03-02", math.Inf(-1)))}, "series[0].points[1].value"},
		{"beyond 1e21", &chart.DayBars{Frame: ok, Series: s(p("2026-03-01", 2e21))}, "series[0].points[0].value"},
		{"bad day", &chart.TimeSeries{Frame: ok, Series: s(p("2026-02-30", 1))}, "series[0].points[0].day"},
		{"a time, not a day", &chart.TimeSeries{Frame: ok, Series: s(p("2026-03-01T00:00:00Z", 1))}, "series[0].points[0].day"},
		{"a day twice", &chart.TimeSeries{Frame: ok, Series: s(p("2026-03-01", 1), p("2026-03-01", 2))}, "series[0].points[1].day"},
		{"bad from", &chart.TimeSeries{Frame: ok, Days: chart.DayAxis{From: "yesterday"}}, "days.from"},
		{"to before from", &chart.TimeSeries{Frame: ok, Days: chart.DayAxis{From: "2026-03-02", To: "2026-03-01"}}, "days.to"},
		{"too many days", &chart.TimeSeries{Frame: ok, Days: chart.DayAxis{From: "2000-01-01", To: "2026-03-01"}}, "days"},
		{"too many series", &chart.TimeSeries{Frame: ok, Series: seven}, "series"},
		{"unnamed series among several", &chart.DayBars{Frame: ok, Series: []chart.Series{{Name: "a"}, {}}}, "series[1].name"},
		{"connect on bars", &chart.DayBars{Frame: ok, Missing: chart.Connect}, "missing"},
		{"unknown missing", &chart.TimeSeries{Frame: ok, Missing: 9}, "missing"},
		{"values per category", &chart.CategoryBars{Frame: ok, Categories: []string{"A", "B"}, Series: []chart.CategorySeries{{Values: []float64{1}}}}, "series[0].values"},
		{"unnamed category", &chart.CategoryBars{Frame: ok, Categories: []string{"A", ""}}, "categories[1]"},
		{"NaN by category", &chart.CategoryBars{Frame: ok, Categories: []string{"A"}, Series: []chart.CategorySeries{{Values: []float64{math.NaN()}}}}, "series[0].values[0]"},
	}
	for _, c := range cases {
		for what, write := range map[string]func(*bytes.Buffer) error{
			"svg":   func(b *bytes.Buffer) error { return c.chart.WriteSVG(b) },
			"table": func(b *bytes.Buffer) error { return c.chart.WriteTable(b) },
		} {
			var b bytes.Buffer
			err := write(&b)
			var e *dataport.Error
			if !errors.As(err, &e) || e.Kind != dataport.KindInvalid {
				t.Errorf("%s (%s): error %v, want a KindInvalid dataport.Error", c.name, what, err)
				continue
			}
			found := false
			for _, f := range e.Fields {
				found = found || f.Field == c.field
			}
			if !found {
				t.Errorf("%s (%s): fields %+v, want one for %s", c.name, what, e.Fields, c.field)
			}
			if b.Len() != 0 {
				t.Errorf("%s (%s): an invalid chart wrote %q", c.name, what, b.String())
			}
		}
	}
	if _, err := chart.SVG(&chart.TimeSeries{}); dataport.KindOf(err) != dataport.KindInvalid {
		t.Errorf("chart.SVG of an invalid chart: %v", err)
	}
}

// TestHostileText puts markup, quotes, control characters and broken UTF-8
// in every text a page passes, as a product or shop name might carry them:
// the SVG and the table must stay well-formed, contain no element the text
// spelled, and show the text as text.
func TestHostileText(t *testing.T) {
	evil := `<script>alert("x")</script> & <foreignObject/> ' ]]> <!-- ` + "\x00\x1b[31m\xff\xfe\n"
	f := func(v float64) string { return evil + "¥" }
	c := &chart.TimeSeries{
		Frame:  chart.Frame{Title: evil + "title", Desc: evil + "desc", NoData: evil},
		Days:   chart.DayAxis{Title: evil, Short: func(d time.Time) string { return evil }, Long: func(d time.Time) string { return evil + d.Format("2006") }},
		Value:  chart.Axis{Title: evil, Format: f},
		Series: []chart.Series{{Name: evil + "a", Points: []chart.Point{{Day: "2026-03-01", Value: 1}}}, {Name: evil + "b"}},
	}
	bars := &chart.CategoryBars{Frame: c.Frame, Categories: []string{evil}, CategoryTitle: evil, Value: c.Value,
		Series: []chart.CategorySeries{{Name: evil, Values: []float64{3}}}}
	empty := &chart.DayBars{Frame: c.Frame, Value: c.Value}
	for _, ch := range []chart.Chart{c, bars, empty} {
		svg, err := chart.SVG(ch)
		if err != nil {
			t.Fatal(err)
		}
		r, err := inspectSVG([]byte(svg))
		if err != nil {
			t.Fatalf("%v\n%s", err, svg)
		}
		title := r.root.children[0].text
		if !strings.Contains(title, `<script>alert("x")</script> & <foreignObject/>`) {
			t.Errorf("the title does not read as the text given: %q", title)
		}
		if strings.ContainsAny(title, "\x00\x1b\n") {
			t.Errorf("control characters reached the output: %q", title)
		}
		table, err := chart.Table(ch)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := inspectTable([]byte(table)); err != nil {
			t.Fatalf("table: %v\n%s", err, table)
		}
		for _, out := range []string{string(svg), string(table)} {
			if strings.Contains(out, "<script") || strings.Contains(out, "<foreignObject") || strings.Contains(out, "<!--") {
				t.Errorf("markup from the text reached the output:\n%s", out)
			}
		}
	}
}

// TestIDs checks that ids are stable for one chart, differ between charts,
// and follow the caller's prefix when given.
func TestIDs(t *testing.T) {
	mk := func(title string, v float64, id string) string {
		svg, err := chart.SVG(&chart.DayBars{Frame: chart.Frame{Title: title, NoData: "n", ID: id},
			Series: []chart.Series{{Name: "a", Points: []chart.Point{{Day: "2026-03-01", Value: v}}}, {Name: "b", Points: []chart.Point{{Day: "2026-03-01", Value: 1}}}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := inspectSVG([]byte(svg))
		if err != nil {
			t.Fatal(err)
		}
		return r.root.attr("aria-labelledby")
	}
	a, again, b, c := mk("Sales", 1, ""), mk("Sales", 1, ""), mk("Sales", 2, ""), mk("Orders", 1, "")
	if a != again {
		t.Errorf("one chart, two ids: %s, %s", a, again)
	}
	if a == b || a == c {
		t.Errorf("different charts share the id %s", a)
	}
	if got := mk("Sales", 1, "sales-30d"); got != "sales-30d-title" {
		t.Errorf("with ID sales-30d the title's id is %s", got)
	}
}
