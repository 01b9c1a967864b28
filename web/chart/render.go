package chart

import (
	"math"
	"strconv"
	"strings"
)

const (
	defaultWidth  = 400
	defaultHeight = 240
	pad           = 8.0  // around the whole chart
	minPlot       = 80.0 // the least height (or width) of the plot area
)

// rect is an area of the chart.
type rect struct{ x, y, w, h float64 }

func (r rect) right() float64  { return r.x + r.w }
func (r rect) bottom() float64 { return r.y + r.h }

// render draws a valid model.
func render(m *model) []byte {
	width, height := float64(m.frame.Width), float64(m.frame.Height)
	if width == 0 {
		width = defaultWidth
	}
	if height == 0 {
		height = defaultHeight
	}
	// A chart narrower than its margins would have no plot: the least width
	// keeps one.
	width, height = max(width, 160), max(height, 120)
	c := &canvas{m: m, id: m.id(), width: width, height: height}
	switch {
	case m.empty():
		c.noData()
	case m.kind == kindCategories:
		c.categories()
	default:
		c.days()
	}
	return c.finish()
}

// canvas is one chart being drawn. The body is drawn first, as its height
// is known only once the legend and rows are laid out; finish wraps it in the
// root element.
type canvas struct {
	m             *model
	id            string
	width, height float64
	defs          svg // fill patterns
	body          svg
}

func (c *canvas) finish() []byte {
	var s svg
	m := c.m
	kv := []string{
		"xmlns", "http://www.w3.org/2000/svg",
		"viewBox", "0 0 " + num(c.width) + " " + num(c.height),
		"width", "100%",
		"preserveAspectRatio", "xMidYMid meet",
		"role", "img",
		"aria-labelledby", c.id + "-title",
	}
	if m.frame.Desc != "" {
		kv = append(kv, "aria-describedby", c.id+"-desc")
	}
	kv = append(kv,
		"class", "chart chart-"+kindNames[m.kind],
		"font-family", fontFamily,
		"font-size", num(fontSize),
		"fill", ink,
	)
	s.open("svg", kv...)
	s.nl()
	s.element("title", m.frame.Title, "id", c.id+"-title")
	s.nl()
	if m.frame.Desc != "" {
		s.element("desc", m.frame.Desc, "id", c.id+"-desc")
		s.nl()
	}
	if c.defs.b.Len() > 0 {
		s.open("defs")
		s.b.Write(c.defs.b.Bytes())
		s.close("defs")
		s.nl()
	}
	s.empty("rect", "width", num(c.width), "height", num(c.height), "fill", background)
	s.nl()
	s.b.Write(c.body.b.Bytes())
	s.close("svg")
	s.nl()
	return s.b.Bytes()
}

// noData draws the frame of an empty plot with the caller's text in it.
func (c *canvas) noData() {
	b := &c.body
	area := rect{pad, pad, c.width - 2*pad, c.height - 2*pad}
	b.empty("rect", "class", "no-data", "x", num(area.x), "y", num(area.y), "width", num(area.w), "height", num(area.h),
		"rx", "6", "fill", "none", "stroke", "#d1d5db", "stroke-width", "1.5", "stroke-dasharray", "6 4")
	b.nl()
	lines := wrap(c.m.frame.NoData, area.w-32, 14, 3)
	y := area.y + area.h/2 - float64(len(lines)-1)*lineHeight/2 + 14*0.35
	b.open("text", "x", num(c.width/2), "y", num(y), "text-anchor", "middle", "font-size", "14", "fill", inkSoft)
	for i, l := range lines {
		if i == 0 {
			b.element("tspan", l, "x", num(c.width/2))
		} else {
			b.element("tspan", l, "x", num(c.width/2), "dy", num(lineHeight))
		}
	}
	b.close("text")
	b.nl()
}

// axisTitle draws a title at the top left and returns the height it took.
func (c *canvas) axisTitle(title string, y float64) float64 {
	if title == "" {
		return 0
	}
	c.body.element("text", fit(title, c.width-2*pad, fontSize), "class", "axis-title", "x", num(pad), "y", num(y+fontSize), "font-weight", "600")
	c.body.nl()
	return lineHeight + 2
}

// legend lays the series' names out in rows across the chart, from y, and
// returns the height it took. A single series needs none: the axis title
// names it.
func (c *canvas) legend(y float64, bars bool) float64 {
	m := c.m
	if len(m.series) < 2 {
		return 0
	}
	const swatch, gap, after = 24.0, 5.0, 16.0
	room := c.width - 2*pad
	x, row := pad, 0
	b := &c.body
	b.open("g", "class", "legend")
	for i, s := range m.series {
		name := fit(s.name, room-swatch-gap, fontSize)
		w := swatch + gap + textWidth(name, fontSize)
		if x > pad && x+w > pad+room {
			x, row = pad, row+1
		}
		cy := y + float64(row)*lineHeight + lineHeight/2
		if bars {
			b.empty("rect", "x", num(x+6), "y", num(cy-6), "width", "12", "height", "12",
				"fill", barFill(c.id, i), "stroke", palette[i], "stroke-width", "1")
		} else {
			kv := []string{"x1", num(x), "y1", num(cy), "x2", num(x + swatch), "y2", num(cy),
				"stroke", palette[i], "stroke-width", "2"}
			if dashes[i] != "" {
				kv = append(kv, "stroke-dasharray", dashes[i])
			}
			b.empty("line", kv...)
			c.legendMarker(i, x+swatch/2, cy)
		}
		b.element("text", name, "x", num(x+swatch+gap), "y", num(cy+fontSize*0.35))
		x += w + after
	}
	b.close("g")
	b.nl()
	return float64(row+1)*lineHeight + 4
}

// legendMarker draws a series' marker in the legend, with no tooltip (the
// name is beside it).
func (c *canvas) legendMarker(i int, x, y float64) {
	b := &c.body
	style := []string{"fill", palette[i], "stroke", background, "stroke-width", "1"}
	if markerShape(i) == circle {
		b.empty("circle", append([]string{"cx", num(x), "cy", num(y), "r", "3.5"}, style...)...)
	} else {
		b.empty("path", append([]string{"d", markerPath(markerShape(i), x, y, 3.5)}, style...)...)
	}
}

// tooltip is the text of one value's tooltip: "Sales, 2026-03-01: ¥1,234.00".
func tooltip(series, x, value string) string {
	if series == "" {
		return x + ": " + value
	}
	return series + ", " + x + ": " + value
}

// days draws a chart over days: lines or bars, days across, values up.
func (c *canvas) days() {
	m := c.m
	lines := m.kind == kindLines
	if !lines {
		c.defs.patterns(c.id, len(m.series))
	}
	top := pad
	top += c.axisTitle(m.value.Title, top)
	top += c.legend(top, !lines)
	top += 8 // half a tick label stands above the top tick
	bottom := 22.0
	if m.xTitle != "" {
		bottom += lineHeight
	}
	bottom += pad / 2
	c.height = max(c.height, top+minPlot+bottom)
	plotH := c.height - top - bottom

	lo, hi := m.valueRange()
	// About one tick per 40 units of height: labels 12 high stay well apart.
	sc := niceScale(lo, hi, tickTarget(plotH, 40, 3, 8), m.value.Integer)
	tickFmt := m.tickFormat(sc)
	// The tick labels take what they need: a number cut short would misread.
	// Only a label wider than half the chart is cut, so that a formatter
	// gone wrong still leaves a plot.
	labels := make([]string, len(sc.ticks))
	labelW := 0.0
	for i, t := range sc.ticks {
		labels[i] = fit(label(tickFmt, t), c.width/2, smallSize)
		labelW = max(labelW, textWidth(labels[i], smallSize))
	}
	left := pad + labelW + 6
	plot := rect{left, top, c.width - left - pad - 4, plotH}
	y := func(v float64) float64 { return plot.bottom() - sc.at(v)*plot.h }

	b := &c.body
	// Gridlines and value ticks.
	b.open("g", "class", "axis axis-value", "font-size", num(smallSize), "fill", inkSoft, "text-anchor", "end")
	for i, t := range sc.ticks {
		ty := y(t)
		b.empty("line", "x1", num(plot.x), "y1", num(ty), "x2", num(plot.right()), "y2", num(ty), "stroke", gridColour)
		b.element("text", labels[i], "x", num(plot.x-6), "y", num(ty+smallSize*0.35))
	}
	b.close("g")
	b.nl()

	n := len(m.xShort)
	band := plot.w / float64(n)
	centre := func(j int) float64 { return plot.x + (float64(j)+0.5)*band }
	c.dayTicks(plot, band, centre)

	fmtV := m.valueFormat()
	if lines {
		c.lines(plot, centre, y, fmtV)
	} else {
		c.dayBars(plot, band, y, fmtV)
	}
	// The axis lines go over the marks' ends: the baseline at zero, where
	// bars start and a sign changes, and the bottom.
	if sc.lo() < 0 && sc.hi() > 0 {
		b.empty("line", "class", "zero", "x1", num(plot.x), "y1", num(y(0)), "x2", num(plot.right()), "y2", num(y(0)), "stroke", axisColour)
	}
	b.empty("line", "x1", num(plot.x), "y1", num(plot.bottom()), "x2", num(plot.right()), "y2", num(plot.bottom()), "stroke", axisColour)
	b.nl()
	if m.xTitle != "" {
		c.bottomTitle(m.xTitle, plot)
	}
	c.plotArea(plot)
}

// bottomTitle draws an axis's title under the plot, centred on it, and
// shortened to stay on the chart.
func (c *canvas) bottomTitle(title string, plot rect) {
	mid := plot.x + plot.w/2
	room := 2 * min(mid-pad, c.width-pad-mid)
	c.body.element("text", fit(title, room, fontSize), "class", "axis-title",
		"x", num(mid), "y", num(plot.bottom()+22+fontSize), "text-anchor", "middle", "font-weight", "600")
	c.body.nl()
}

// plotArea records the plot's area as an invisible rectangle: pages and
// tests can find where the data is drawn.
func (c *canvas) plotArea(plot rect) {
	c.body.empty("rect", "class", "plot", "x", num(plot.x), "y", num(plot.y), "width", num(plot.w), "height", num(plot.h), "fill", "none")
	c.body.nl()
}

// dayStrides are the spacings of the labelled days: every day, every
// other, every third, weekly, fortnightly, four-weekly, then by quarters and years.
var dayStrides = []int{1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 728, 1456}

// dayTicks labels the days, thinned so that the labels do not collide. The
// last day (today, on a dashboard) is always labelled, and the others at a
// whole number of strides before it, so weekly labels fall on its weekday.
func (c *canvas) dayTicks(plot rect, band float64, centre func(int) float64) {
	m, b := c.m, &c.body
	n := len(m.xShort)
	labels := make([]string, n)
	widest := 0.0
	for j, l := range m.xShort {
		labels[j] = fit(l, c.width-2*pad, smallSize)
		widest = max(widest, textWidth(labels[j], smallSize))
	}
	stride := dayStrides[len(dayStrides)-1]
	for _, s := range dayStrides {
		if float64(s)*band >= widest+8 {
			stride = s
			break
		}
	}
	b.open("g", "class", "axis axis-day", "font-size", num(smallSize), "fill", inkSoft, "text-anchor", "middle")
	limit := math.Inf(1) // the left end of the label placed before, right of this one
	for j := n - 1; j >= 0; j -= stride {
		x := centre(j)
		l := labels[j]
		w := textWidth(l, smallSize)
		// Keep the label on the chart: an end label is moved in, not cut.
		// Moved in, it may reach its neighbour; then the neighbour is left
		// out rather than overprinted.
		lx := min(max(x, w/2+2), c.width-w/2-2)
		if lx+w/2 > limit-6 {
			continue
		}
		limit = lx - w/2
		b.empty("line", "x1", num(x), "y1", num(plot.bottom()), "x2", num(x), "y2", num(plot.bottom()+4), "stroke", axisColour)
		b.element("text", l, "x", num(lx), "y", num(plot.bottom()+6+smallSize))
	}
	b.close("g")
	b.nl()
}

// lines draws each series as a line with a marker on each value.
func (c *canvas) lines(plot rect, centre func(int) float64, y func(float64) float64, f Format) {
	m, b := c.m, &c.body
	// Markers are as large as the spacing of the values allows: a score
	// decided now and then gets full-size markers on a 90-day axis, a daily
	// series over half a year small ones.
	most := 1
	for _, s := range m.series {
		n := 0
		for _, v := range s.values {
			if !math.IsNaN(v) {
				n++
			}
		}
		most = max(most, n)
	}
	r := min(max(plot.w/float64(most)*0.3, 1.75), 3.5)
	for i, s := range m.series {
		b.open("g", "class", "series series-"+strconv.Itoa(i))
		// The path: a move starts each run of values; a gap ends it, unless
		// the chart connects across missing days.
		var d []byte
		pen := false
		for j, v := range s.values {
			if math.IsNaN(v) {
				pen = pen && m.connect
				continue
			}
			if pen {
				d = append(d, 'L')
			} else {
				d = append(d, 'M')
			}
			d = append(d, num(centre(j))...)
			d = append(d, ' ')
			d = append(d, num(y(v))...)
			pen = true
		}
		if len(d) > 0 {
			kv := []string{"class", "line", "d", string(d), "fill", "none", "stroke", palette[i], "stroke-width", "2",
				"stroke-linejoin", "round", "stroke-linecap", "round"}
			if dashes[i] != "" {
				kv = append(kv, "stroke-dasharray", dashes[i])
			}
			b.empty("path", kv...)
		}
		for j, v := range s.values {
			if !math.IsNaN(v) {
				b.marker(i, centre(j), y(v), r, tooltip(s.name, m.xLong[j], label(f, v)))
			}
		}
		b.close("g")
		b.nl()
	}
}

// dayBars draws each day's values as bars, side by side or stacked.
func (c *canvas) dayBars(plot rect, band float64, y func(float64) float64, f Format) {
	m, b := c.m, &c.body
	k := float64(len(m.series))
	group := band * 0.8
	each := group / k
	if m.stacked {
		each = group
	}
	for i, s := range m.series {
		b.open("g", "class", "series series-"+strconv.Itoa(i))
		for j, v := range s.values {
			if math.IsNaN(v) {
				continue
			}
			x := plot.x + float64(j)*band + (band-group)/2
			base := 0.0
			if m.stacked {
				base = stackBase(m, i, j)
			} else {
				x += float64(i) * each
			}
			y0, y1 := y(base), y(base+v)
			c.bar(i, rect{x, min(y0, y1), each, math.Abs(y1 - y0)}, tooltip(s.name, m.xLong[j], label(f, v)))
		}
		b.close("g")
		b.nl()
	}
}

// stackBase is where series i's bar at position j starts in a stack: the
// sum of the bars of the same sign below it. Positive values stack up from
// zero and negative ones down, so that no bar hides another.
func stackBase(m *model, i, j int) float64 {
	v := m.series[i].values[j]
	base := 0.0
	for _, s := range m.series[:i] {
		w := s.values[j]
		if math.IsNaN(w) {
			continue
		}
		if (w >= 0) == (v >= 0) {
			base += w
		}
	}
	return base
}

// bar draws series i's bar in r with its tooltip.
func (c *canvas) bar(i int, r rect, tip string) {
	b := &c.body
	b.open("rect", "class", "mark", "x", num(r.x), "y", num(r.y), "width", num(r.w), "height", num(r.h),
		"fill", barFill(c.id, i), "stroke", palette[i], "stroke-width", num(min(1, r.w/4)))
	b.tip(tip)
	b.close("rect")
}

// categories draws a category chart: one row per category, values across.
func (c *canvas) categories() {
	m, b := c.m, &c.body
	c.defs.patterns(c.id, len(m.series))
	top := pad
	top += c.axisTitle(m.xTitle, top)
	top += c.legend(top, true)
	top += 4

	// The category names take what they need, up to two fifths of the
	// width, wrapped onto two lines.
	room := 0.0
	for _, name := range m.xShort {
		room = max(room, textWidth(name, fontSize))
	}
	room = min(room, (c.width-2*pad)*0.4)
	names := make([][]string, len(m.xShort))
	maxLines := 1
	for j, name := range m.xShort {
		names[j] = wrap(name, room, fontSize, 2)
		maxLines = max(maxLines, len(names[j]))
	}
	nameEdge := pad + room + 8 // where the names end and the plot may start
	left := nameEdge
	bottom := 22.0
	if m.value.Title != "" {
		bottom += lineHeight
	}
	bottom += pad / 2

	// The value ticks run across: as many as fit side by side. The first
	// and last labels are centred on the plot's ends, so half of each needs
	// room beside it.
	lo, hi := m.valueRange()
	fmtV := m.valueFormat()
	var sc scale
	var labels []string
	right := pad
	for target := 8; ; target-- {
		sc = niceScale(lo, hi, target, m.value.Integer)
		tf := m.tickFormat(sc)
		labels = labels[:0]
		widest := 0.0
		for _, t := range sc.ticks {
			l := fit(label(tf, t), (c.width-2*pad)/2, smallSize) // as for the day charts: only a wild label is cut
			labels = append(labels, l)
			widest = max(widest, textWidth(l, smallSize))
		}
		left = max(nameEdge, pad+textWidth(labels[0], smallSize)/2+2)
		right = max(pad, textWidth(labels[len(labels)-1], smallSize)/2+4)
		plotW := max(c.width-left-right, minPlot)
		if target == 2 || plotW/float64(len(sc.ticks)-1) >= widest+12 {
			break
		}
	}
	plotW := max(c.width-left-right, minPlot)
	c.width = max(c.width, left+plotW+right)

	k := len(m.series)
	bandH := max(28, float64(maxLines)*16+10)
	if !m.stacked {
		bandH = max(bandH, float64(k)*10/0.75)
	}
	rows := float64(len(m.xShort))
	if extra := c.height - top - bottom; extra > rows*bandH {
		bandH = min(extra/rows, bandH*2) // a taller chart gives rows some air, not huge bars
	}
	plot := rect{left, top, plotW, rows * bandH}
	c.height = max(c.height, plot.bottom()+bottom)
	x := func(v float64) float64 { return plot.x + sc.at(v)*plot.w }

	// Gridlines and value ticks. Even two ticks' labels can be too wide to
	// stand side by side; then a label that would touch the one before it
	// is left out, and its gridline stays.
	b.open("g", "class", "axis axis-value", "font-size", num(smallSize), "fill", inkSoft, "text-anchor", "middle")
	limit := math.Inf(-1) // the right end of the label placed before
	for i, t := range sc.ticks {
		tx := x(t)
		b.empty("line", "x1", num(tx), "y1", num(plot.y), "x2", num(tx), "y2", num(plot.bottom()), "stroke", gridColour)
		if w := textWidth(labels[i], smallSize); tx-w/2 >= limit+6 {
			b.element("text", labels[i], "x", num(tx), "y", num(plot.bottom()+6+smallSize))
			limit = tx + w/2
		}
	}
	b.close("g")
	b.nl()

	// Category names, centred on their rows.
	b.open("g", "class", "axis axis-category", "text-anchor", "end")
	for j, ls := range names {
		cy := plot.y + (float64(j)+0.5)*bandH
		ty := cy - float64(len(ls)-1)*16/2 + fontSize*0.35
		b.open("text", "x", num(nameEdge-8), "y", num(ty))
		for i, l := range ls {
			if i == 0 {
				b.element("tspan", l, "x", num(nameEdge-8))
			} else {
				b.element("tspan", l, "x", num(nameEdge-8), "dy", "16")
			}
		}
		if shortened(ls, m.xShort[j]) {
			b.tip(m.xShort[j]) // the whole name on hover
		}
		b.close("text")
	}
	b.close("g")
	b.nl()

	thick := bandH * 0.7
	if !m.stacked {
		thick = min(thick, 24*float64(k))
	} else {
		thick = min(thick, 24)
	}
	each := thick / float64(k)
	if m.stacked {
		each = thick
	}
	for i, s := range m.series {
		b.open("g", "class", "series series-"+strconv.Itoa(i))
		for j, v := range s.values {
			ry := plot.y + float64(j)*bandH + (bandH-thick)/2
			base := 0.0
			if m.stacked {
				base = stackBase(m, i, j)
			} else {
				ry += float64(i) * each
			}
			x0, x1 := x(base), x(base+v)
			c.bar(i, rect{min(x0, x1), ry, math.Abs(x1 - x0), each}, tooltip(s.name, m.xLong[j], label(fmtV, v)))
		}
		b.close("g")
		b.nl()
	}
	// The baseline at zero, over the bars' ends.
	b.empty("line", "class", "zero", "x1", num(x(0)), "y1", num(plot.y), "x2", num(x(0)), "y2", num(plot.bottom()), "stroke", axisColour)
	b.nl()
	if m.value.Title != "" {
		c.bottomTitle(m.value.Title, plot)
	}
	c.plotArea(plot)
}

// shortened reports whether wrapping cut name short.
func shortened(lines []string, name string) bool {
	return len(lines) > 0 && strings.HasSuffix(lines[len(lines)-1], "…") && !strings.HasSuffix(name, "…")
}
