package chart

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"html/template"
	"io"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/dataport/dataport"
)

// Frame is what every chart says about itself, in the page's language.
type Frame struct {
	// Title names the chart: the SVG's <title>, which screen readers announce,
	// and the data table's caption. Required.
	Title string
	// Desc says in a sentence what the chart shows or what to read from it:
	// the SVG's <desc>. Optional.
	Desc string
	// NoData is drawn in place of the plot when there is nothing to draw.
	// Required, so that a page never shows an empty frame nobody explains.
	NoData string
	// ID prefixes the ids inside the SVG (its title, its fill patterns): it
	// must be unique on the page, a letter then letters, digits, '-' or '_'.
	// Empty: derived from the chart's content, so two different charts on one
	// page never share one.
	ID string
	// Width and Height are the viewBox's size. The SVG scales to the width of
	// its container, so they set the proportions and how large the text is:
	// text is 12–13 units high, which reads as 12–13 CSS pixels when the
	// chart is drawn Width pixels wide. The default width, 400, suits a
	// phone; a wide page may pass more (or cap the chart's width in its CSS).
	// Height is the least height: a chart grows to fit its legend, and a
	// category chart its rows. Zero: 400 × 240; at least 160 × 120.
	Width, Height int
}

// Axis is a value axis.
type Axis struct {
	// Title names the quantity and its unit ("Sales (¥)", "销售额（元）"),
	// drawn above the plot.
	Title string
	// Format writes a value exactly, for the tooltips and the data table.
	// Nil: the shortest decimal, with thousands separators.
	Format Format
	// TickFormat writes the tick labels, which are round numbers; nil: Format
	// (a rate chart's default shows as many decimals as the ticks need).
	TickFormat Format
	// Integer says the values are counts: ticks are whole numbers.
	Integer bool
	// Fit lets the axis fit the data instead of always including zero: for a
	// score that moves between 550 and 700. Bars always start at zero.
	Fit bool
}

// Missing says what a day without a point means.
type Missing uint8

const (
	// Gap: nothing is known for the day; a line breaks there, no bar is
	// drawn, and the table shows "—".
	Gap Missing = iota
	// Zero: the day's value is zero (no orders that day); it is drawn and
	// listed as 0.
	Zero
	// Connect: the value holds between points (a score changes only when a
	// decision is made); a line runs straight across the missing days, and the
	// table shows "—" for them. Lines only.
	Connect
)

// Point is one day's value.
type Point struct {
	Day   string  // YYYY-MM-DD: the exchange's days (China Standard Time)
	Value float64 // finite; money in minor units, rates as fractions
}

// Series is one named quantity over days.
type Series struct {
	Name   string // in the legend, the tooltips and the table's header
	Points []Point
}

// DayAxis is the axis of days.
type DayAxis struct {
	// From and To bound the days shown, both included, YYYY-MM-DD. Points
	// outside are not drawn. Empty: the first and the last day with a point.
	// A dashboard passes its window (the last 30 days), so that days without
	// data at either end still show as days.
	From, To string
	// Title names the axis ("Day", "日期"), under the plot and over the
	// table's first column.
	Title string
	// Short writes a day as a tick label; nil: "01-02" (month-day). Long
	// writes it in full for the tooltips and the table; nil: "2006-01-02".
	// They get the day's midnight in UTC: only its date counts.
	Short, Long func(day time.Time) string
}

// MaxSeries is how many series one chart draws: beyond six, colours, dashes,
// markers and hatching no longer tell them apart at a glance.
const MaxSeries = 6

// MaxDays is the longest run of days a chart draws (ten years).
const MaxDays = 3660

// MaxCategories is how many categories a category chart draws.
const MaxCategories = 60

// maxMagnitude bounds the values: above every amount an int64 of minor units
// holds, and far enough below float64's limit that no computation on an axis
// overflows.
const maxMagnitude = 1e21

// Chart is a chart the package renders: TimeSeries, RateSeries, DayBars and
// CategoryBars.
type Chart interface {
	// WriteSVG writes the chart as one <svg> element, for inlining in a page
	// or serving as image/svg+xml. Nothing is written when the chart is
	// invalid.
	WriteSVG(w io.Writer) error
	// WriteTable writes the chart's data as an HTML <table>, to show beside
	// or under the chart (or instead of it, for those who prefer numbers).
	WriteTable(w io.Writer) error
}

// SVG returns the chart's SVG for an html/template page. Errors are
// dataport.Errors of KindInvalid naming the field at fault.
func SVG(c Chart) (template.HTML, error) {
	var b bytes.Buffer
	if err := c.WriteSVG(&b); err != nil {
		return "", err
	}
	// The SVG is built from escaped text and numbers this package writes.
	return template.HTML(b.String()), nil
}

// Table returns the chart's data table for an html/template page.
func Table(c Chart) (template.HTML, error) {
	var b bytes.Buffer
	if err := c.WriteTable(&b); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil
}

// kind is what a chart draws.
type kind uint8

const (
	kindLines kind = iota
	kindDayBars
	kindCategories
)

var kindNames = [...]string{kindLines: "lines", kindDayBars: "day-bars", kindCategories: "categories"}

// model is a chart validated and laid on its x axis: every series has one
// value per x position (a day or a category), NaN where it has none. Only the
// renderers see NaN; it never reaches the output.
type model struct {
	kind    kind
	frame   Frame
	xTitle  string
	xShort  []string // tick labels (days) or category names
	xLong   []string // tooltip and table labels
	value   Axis
	percent bool // the rate chart: tick labels default to percents
	stacked bool
	connect bool // a line runs across missing days
	series  []mseries
}

type mseries struct {
	name   string
	values []float64
	// given marks the values that came with a point, as against zeros the
	// chart filled in for missing days.
	given []bool
}

// newModel starts a model. Titles and names are trimmed: one of spaces is
// none.
func newModel(k kind, f Frame, xTitle string, value Axis) *model {
	value.Title = strings.TrimSpace(value.Title)
	return &model{kind: k, frame: f, xTitle: strings.TrimSpace(xTitle), value: value}
}

// empty reports whether there is nothing to draw: no value came with a point
// (zeros filled in for missing days do not count).
func (m *model) empty() bool {
	for _, s := range m.series {
		for _, g := range s.given {
			if g {
				return false
			}
		}
	}
	return true
}

var idPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

func checkFrame(p *dataport.Problems, f *Frame) {
	if strings.TrimSpace(f.Title) == "" {
		p.Add("title", "a chart needs a title: screen readers announce it")
	}
	if strings.TrimSpace(f.NoData) == "" {
		p.Add("no_data", "give the text shown when there is no data, in the page's language")
	}
	if f.ID != "" && !idPattern.MatchString(f.ID) {
		p.Add("id", "must be a letter then up to 63 letters, digits, '-' or '_'")
	}
	if f.Width < 0 || f.Width > 4000 {
		p.Add("width", "must be 0 (the default) to 4000")
	}
	if f.Height < 0 || f.Height > 4000 {
		p.Add("height", "must be 0 (the default) to 4000")
	}
}

func checkValue(p *dataport.Problems, field string, v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		p.Add(field, "must be a finite number (leave a missing day out)")
	} else if math.Abs(v) > maxMagnitude {
		p.Add(field, "is beyond ±1e21, more than any amount a chart shows")
	}
}

func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// daysModel validates a chart over days and lays its series on the days.
func daysModel(op string, k kind, f Frame, days DayAxis, y Axis, missing Missing, series []Series) (*model, error) {
	var p dataport.Problems
	checkFrame(&p, &f)
	if len(series) > MaxSeries {
		p.Add("series", "at most %d series can be told apart; draw another chart", MaxSeries)
	}
	switch {
	case missing > Connect:
		p.Add("missing", "must be Gap, Zero or Connect")
	case missing == Connect && k != kindLines:
		p.Add("missing", "Connect draws a line across missing days: bars take Gap or Zero")
	}
	var from, to time.Time
	var haveFrom, haveTo bool
	if days.From != "" {
		if from, haveFrom = parseDay(days.From); !haveFrom {
			p.Add("days.from", "must be a day, YYYY-MM-DD")
		}
	}
	if days.To != "" {
		if to, haveTo = parseDay(days.To); !haveTo {
			p.Add("days.to", "must be a day, YYYY-MM-DD")
		}
	}
	// Every point is checked, those outside From…To too: a bad value is a
	// bug in the page whether or not it is drawn today.
	type parsed struct {
		day time.Time
		v   float64
	}
	ps := make([][]parsed, len(series))
	var first, last time.Time // of the points, until From and To override them
	anyPoint := false
	for i, s := range series {
		if strings.TrimSpace(s.Name) == "" && len(series) > 1 {
			p.Add(fmt.Sprintf("series[%d].name", i), "series need names to be told apart in the legend")
		}
		seen := make(map[time.Time]bool, len(s.Points))
		for j, pt := range s.Points {
			field := fmt.Sprintf("series[%d].points[%d]", i, j)
			d, ok := parseDay(pt.Day)
			if !ok {
				p.Add(field+".day", "must be a day, YYYY-MM-DD")
				continue
			}
			if seen[d] {
				p.Add(field+".day", "%s is given twice", pt.Day)
			}
			seen[d] = true
			checkValue(&p, field+".value", pt.Value)
			ps[i] = append(ps[i], parsed{d, pt.Value})
			if !anyPoint || d.Before(first) {
				first = d
			}
			if !anyPoint || d.After(last) {
				last = d
			}
			anyPoint = true
		}
	}
	if haveFrom {
		first = from
	}
	if haveTo {
		last = to
	}
	n := 0 // days shown
	switch {
	case haveFrom && haveTo && to.Before(from):
		p.Add("days.to", "must not be before days.from")
	case !(anyPoint || haveFrom) || !(anyPoint || haveTo) || last.Before(first):
		// No days to show: no points and no window, or one end given and
		// every point beyond it. The chart says there is no data.
	case last.Sub(first) >= MaxDays*24*time.Hour:
		p.Add("days", "at most %d days can be drawn", MaxDays)
	default:
		n = int(last.Sub(first)/(24*time.Hour)) + 1
	}
	if err := p.Err(op); err != nil {
		return nil, err
	}

	short, long := days.Short, days.Long
	if short == nil {
		short = func(d time.Time) string { return d.Format("01-02") }
	}
	if long == nil {
		long = func(d time.Time) string { return d.Format(time.DateOnly) }
	}
	m := newModel(k, f, days.Title, y)
	m.xShort, m.xLong = make([]string, n), make([]string, n)
	for i := range n {
		d := first.AddDate(0, 0, i)
		m.xShort[i], m.xLong[i] = short(d), long(d)
	}
	for i, s := range series {
		ms := mseries{name: strings.TrimSpace(s.Name), values: make([]float64, n), given: make([]bool, n)}
		for j := range ms.values {
			ms.values[j] = math.NaN()
		}
		for _, pt := range ps[i] {
			if pt.day.Before(first) || pt.day.After(last) {
				continue
			}
			j := int(pt.day.Sub(first) / (24 * time.Hour))
			ms.values[j], ms.given[j] = pt.v, true
		}
		if missing == Zero && n > 0 {
			for j, v := range ms.values {
				if math.IsNaN(v) {
					ms.values[j] = 0
				}
			}
		}
		m.series = append(m.series, ms)
	}
	m.connect = missing == Connect
	return m, nil
}

// id returns the prefix of the ids inside the chart's SVG: the caller's, or
// one derived from everything the chart shows, so that it is the same on
// every render and differs between charts.
func (m *model) id() string {
	if m.frame.ID != "" {
		return m.frame.ID
	}
	h := fnv.New64a()
	put := func(s string) {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	put(kindNames[m.kind])
	put(m.frame.Title)
	put(m.frame.Desc)
	for _, x := range m.xLong {
		put(x)
	}
	for _, s := range m.series {
		put(s.name)
		for _, v := range s.values {
			var n [8]byte
			binary.LittleEndian.PutUint64(n[:], math.Float64bits(v))
			h.Write(n[:])
		}
	}
	return fmt.Sprintf("chart-%016x", h.Sum64())
}

// valueRange returns the smallest and largest value the value axis must
// show: of the values, or of the stacks' ends for a stacked chart; with zero
// unless the axis fits the data (bars always include it).
func (m *model) valueRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	see := func(v float64) {
		lo, hi = min(lo, v), max(hi, v)
	}
	if m.stacked {
		for j := range m.xLong {
			pos, neg := 0.0, 0.0
			for _, s := range m.series {
				if v := s.values[j]; v > 0 {
					pos += v
				} else if v < 0 {
					neg += v
				}
			}
			see(pos)
			see(neg)
		}
	} else {
		for _, s := range m.series {
			for _, v := range s.values {
				if !math.IsNaN(v) {
					see(v)
				}
			}
		}
	}
	if !m.value.Fit || m.kind != kindLines {
		see(0)
	}
	return lo, hi
}

// valueFormat and tickFormat are the axis's formats with their defaults.
func (m *model) valueFormat() Format {
	switch {
	case m.value.Format != nil:
		return m.value.Format
	case m.percent:
		return Percent(2)
	}
	return plain
}

func (m *model) tickFormat(s scale) Format {
	switch {
	case m.value.TickFormat != nil:
		return m.value.TickFormat
	case m.value.Format != nil:
		return m.value.Format
	case m.percent:
		// Ticks are fractions: a step of 0.005 is 0.5% and needs one decimal.
		return Percent(max(0, s.decimals()-2))
	}
	return Number(s.decimals())
}

// label returns f(v), cleaned for the page.
func label(f Format, v float64) string { return clean(f(v)) }
