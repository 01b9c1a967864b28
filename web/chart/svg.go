package chart

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// svg builds the markup. Every text and attribute value goes through escape;
// every number through num, which never writes NaN or Inf.
type svg struct {
	b bytes.Buffer
}

// open writes <name k="v" …>; kv alternates names and values.
func (s *svg) open(name string, kv ...string) {
	s.tag(name, kv)
	s.b.WriteByte('>')
}

// empty writes <name k="v" …/>.
func (s *svg) empty(name string, kv ...string) {
	s.tag(name, kv)
	s.b.WriteString("/>")
}

func (s *svg) tag(name string, kv []string) {
	s.b.WriteByte('<')
	s.b.WriteString(name)
	for i := 0; i+1 < len(kv); i += 2 {
		s.b.WriteByte(' ')
		s.b.WriteString(kv[i])
		s.b.WriteString(`="`)
		s.b.WriteString(escape(kv[i+1]))
		s.b.WriteByte('"')
	}
}

func (s *svg) close(name string) {
	s.b.WriteString("</")
	s.b.WriteString(name)
	s.b.WriteByte('>')
}

func (s *svg) text(t string) { s.b.WriteString(escape(t)) }

// element writes <name …>text</name>.
func (s *svg) element(name, text string, kv ...string) {
	s.open(name, kv...)
	s.text(text)
	s.close(name)
}

// tip writes a <title> child: the tooltip browsers show on hover.
func (s *svg) tip(t string) { s.element("title", t) }

func (s *svg) nl() { s.b.WriteByte('\n') }

// num writes a coordinate with at most two decimals. A coordinate is never
// NaN or infinite by construction; num writes 0 rather than let one through,
// and the property tests check none ever reaches it.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		return "0"
	}
	return s
}

// The look. Text and axes are dark grey on the chart's own white background,
// so that contrast holds whatever the page behind is.
const (
	background = "#ffffff"
	ink        = "#1f2937" // text: 14.7:1 on white
	inkSoft    = "#4b5563" // tick labels, no-data text: 7.6:1
	axisColour = "#6b7280" // axis line: 4.8:1
	gridColour = "#e5e7eb" // gridlines are faint on purpose: they guide, not mark
	fontFamily = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans', 'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
	fontSize   = 13.0
	smallSize  = 12.0
	lineHeight = 18.0
)

// palette holds the series' colours, in order: the Okabe–Ito colours that
// colour-blind readers tell apart, darkened where needed so that each has at
// least 3:1 contrast on white (WCAG 2.2's 1.4.11 for graphics). Colour is
// never the only difference: each series also has its own dash and marker
// (lines) or fill pattern (bars).
var palette = [MaxSeries]string{
	"#0072b2", // blue
	"#c74e00", // vermillion
	"#007a5a", // bluish green
	"#a8457f", // reddish purple
	"#8a6d00", // ochre, the darkened yellow-orange
	"#4d4d4d", // grey
}

// dashes are the lines' stroke-dasharray per series ("" is solid).
var dashes = [MaxSeries]string{"", "6 3", "2 3", "8 3 2 3", "12 4", "4 2 4 6"}

// markerShape is the marker per series: circle, square, triangle, diamond,
// triangle pointing down, cross.
type markerShape uint8

const (
	circle markerShape = iota
	square
	triangle
	diamond
	triangleDown
	cross
)

// marker writes series i's marker at (x, y) with radius r, with a tooltip.
func (s *svg) marker(i int, x, y, r float64, tooltip string) {
	style := []string{"fill", palette[i], "stroke", background, "stroke-width", "1"}
	if shape := markerShape(i); shape == circle {
		s.open("circle", append([]string{"class", "mark", "cx", num(x), "cy", num(y), "r", num(r)}, style...)...)
		s.tip(tooltip)
		s.close("circle")
	} else {
		s.open("path", append([]string{"class", "mark", "d", markerPath(shape, x, y, r)}, style...)...)
		s.tip(tooltip)
		s.close("path")
	}
}

// markerPath draws a shape of about the area of a circle of radius r, its
// bounding box centred on (x, y).
func markerPath(shape markerShape, x, y, r float64) string {
	p := func(pts ...float64) string {
		var b strings.Builder
		for i := 0; i+1 < len(pts); i += 2 {
			if i == 0 {
				b.WriteString("M")
			} else {
				b.WriteString("L")
			}
			b.WriteString(num(x + pts[i]))
			b.WriteString(" ")
			b.WriteString(num(y + pts[i+1]))
		}
		b.WriteString("Z")
		return b.String()
	}
	switch shape {
	case square:
		a := r * 0.89
		return p(-a, -a, a, -a, a, a, -a, a)
	case triangle: // centred on its box, so the point is its middle
		a := r * 1.2
		return p(0, -a, a*1.1, a, -a*1.1, a)
	case diamond:
		a := r * 1.25
		return p(0, -a, a, 0, 0, a, -a, 0)
	case triangleDown:
		a := r * 1.2
		return p(0, a, a*1.1, -a, -a*1.1, -a)
	default: // cross: a plus sign of bars a third as wide as it is long
		a, t := r*1.15, r*0.42
		return p(-t, -a, t, -a, t, -t, a, -t, a, t, t, t, t, a, -t, a, -t, t, -a, t, -a, -t, -t, -t)
	}
}

// patterns writes the bars' fill patterns into <defs>, one per series: solid,
// diagonal hatching, dots, cross-hatching, horizontal and vertical stripes,
// each in the series' colour on its light tint, so bars differ without
// colour and in print.
func (s *svg) patterns(id string, n int) {
	for i := range n {
		c := palette[i]
		pid := patternID(id, i)
		if i == 0 {
			continue // solid: no pattern needed
		}
		switch i {
		case 1: // diagonal hatching
			s.open("pattern", "id", pid, "width", "6", "height", "6", "patternUnits", "userSpaceOnUse", "patternTransform", "rotate(45)")
			s.empty("rect", "width", "6", "height", "6", "fill", tint(c))
			s.empty("rect", "width", "3", "height", "6", "fill", c)
		case 2: // dots
			s.open("pattern", "id", pid, "width", "5", "height", "5", "patternUnits", "userSpaceOnUse")
			s.empty("rect", "width", "5", "height", "5", "fill", tint(c))
			s.empty("circle", "cx", "2.5", "cy", "2.5", "r", "1.6", "fill", c)
		case 3: // cross-hatching
			s.open("pattern", "id", pid, "width", "6", "height", "6", "patternUnits", "userSpaceOnUse", "patternTransform", "rotate(45)")
			s.empty("rect", "width", "6", "height", "6", "fill", tint(c))
			s.empty("rect", "width", "2", "height", "6", "fill", c)
			s.empty("rect", "width", "6", "height", "2", "fill", c)
		case 4: // horizontal stripes
			s.open("pattern", "id", pid, "width", "6", "height", "5", "patternUnits", "userSpaceOnUse")
			s.empty("rect", "width", "6", "height", "5", "fill", tint(c))
			s.empty("rect", "width", "6", "height", "2", "fill", c)
		default: // vertical stripes
			s.open("pattern", "id", pid, "width", "5", "height", "6", "patternUnits", "userSpaceOnUse")
			s.empty("rect", "width", "5", "height", "6", "fill", tint(c))
			s.empty("rect", "width", "2", "height", "6", "fill", c)
		}
		s.close("pattern")
	}
}

func patternID(id string, i int) string { return id + "-fill" + strconv.Itoa(i) }

// barFill is series i's bar fill: its colour, or its pattern.
func barFill(id string, i int) string {
	if i == 0 {
		return palette[0]
	}
	return "url(#" + patternID(id, i) + ")"
}

// tint mixes colour c (#rrggbb) with three parts white: the light ground of a
// pattern, so that a hatched bar reads as one shape of the series' hue.
func tint(c string) string {
	v, _ := strconv.ParseUint(c[1:], 16, 32)
	mix := func(shift uint) uint64 {
		ch := (v >> shift) & 0xff
		return (ch + 3*0xff) / 4
	}
	return "#" + hex2(mix(16)) + hex2(mix(8)) + hex2(mix(0))
}

func hex2(v uint64) string {
	s := strconv.FormatUint(v, 16)
	if len(s) < 2 {
		s = "0" + s
	}
	return s
}
