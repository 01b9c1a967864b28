package chart_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// node is an element of a parsed SVG or table.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     string // the text directly inside it
}

func (n *node) attr(k string) string { return n.attrs[k] }

// walk calls f on n and every element under it, depth first.
func (n *node) walk(f func(*node)) {
	f(n)
	for _, c := range n.children {
		c.walk(f)
	}
}

// find returns the elements under n (n included) that match.
func (n *node) find(match func(*node) bool) []*node {
	var out []*node
	n.walk(func(e *node) {
		if match(e) {
			out = append(out, e)
		}
	})
	return out
}

func (n *node) hasClass(c string) bool {
	return strings.Contains(" "+n.attr("class")+" ", " "+c+" ")
}

// allText is the text of n and everything under it.
func (n *node) allText() string {
	var b strings.Builder
	n.walk(func(e *node) { b.WriteString(e.text) })
	return b.String()
}

// parseXML parses a document strictly, as an XML processor would: a chart
// that does not parse is broken in a standalone .svg file, and a sign of an
// escaping fault when inlined.
func parseXML(doc []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				k := a.Name.Local
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					k = a.Name.Space + ":" + k
				}
				if a.Name.Space == "" && a.Name.Local == "xmlns" {
					k = "xmlns"
				}
				n.attrs[k] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root != nil {
				return nil, fmt.Errorf("a second root element <%s>", n.name)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			} else if strings.TrimSpace(string(tok)) != "" {
				return nil, fmt.Errorf("text outside the root: %q", tok)
			}
		case xml.ProcInst, xml.Directive:
			return nil, fmt.Errorf("unexpected %T", tok)
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no element")
	}
	return root, nil
}

// The elements and attributes a chart may use. Everything else, and in
// particular anything that can reach outside the page (href, <image>,
// <use>, <foreignObject>, <script>, style with url(), event handlers), is
// refused.
var (
	allowedElements = set("svg", "title", "desc", "defs", "pattern", "rect", "circle", "path", "line", "text", "tspan", "g")
	allowedAttrs    = set("xmlns", "viewBox", "width", "height", "preserveAspectRatio", "role", "aria-labelledby",
		"aria-describedby", "class", "font-family", "font-size", "font-weight", "fill", "stroke", "stroke-width",
		"stroke-dasharray", "stroke-linejoin", "stroke-linecap", "id", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy",
		"r", "rx", "d", "dy", "text-anchor", "patternUnits", "patternTransform")
	numericAttrs = set("x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "dy", "stroke-width", "font-size", "width", "height")
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

var (
	numberRE  = regexp.MustCompile(`-?[0-9]+(?:\.[0-9]+)?`)
	decimalRE = regexp.MustCompile(`^-?[0-9]+(?:\.[0-9]+)?$`)
	pathRE    = regexp.MustCompile(`^(?:[MLZ]|-?[0-9]+(?:\.[0-9]+)?| )*$`)
	viewBoxRE = regexp.MustCompile(`^0 0 [0-9]+(?:\.[0-9]+)? [0-9]+(?:\.[0-9]+)?$`)
	urlRE     = regexp.MustCompile(`url\(([^)]*)\)`)
)

// box is an area in the SVG's user units.
type box struct{ x, y, w, h float64 }

func (b box) contains(x, y, eps float64) bool {
	return x >= b.x-eps && x <= b.x+b.w+eps && y >= b.y-eps && y <= b.y+b.h+eps
}

// svgReport is what inspectSVG found.
type svgReport struct {
	root   *node
	view   box
	plot   *box    // nil for the no-data state
	marks  []*node // the data's markers and bars
	noData bool
}

// inspectSVG checks what holds for every chart the package writes, and
// returns what it found for the caller's own checks.
func inspectSVG(doc []byte) (svgReport, error) {
	var r svgReport
	root, err := parseXML(doc)
	if err != nil {
		return r, fmt.Errorf("not well-formed XML: %v", err)
	}
	r.root = root
	if root.name != "svg" || root.attr("xmlns") != "http://www.w3.org/2000/svg" {
		return r, fmt.Errorf("root is <%s xmlns=%q>", root.name, root.attr("xmlns"))
	}
	if root.attr("role") != "img" || root.attr("width") != "100%" {
		return r, fmt.Errorf("root has role=%q width=%q", root.attr("role"), root.attr("width"))
	}
	vb := strings.Fields(root.attr("viewBox"))
	if len(vb) != 4 || vb[0] != "0" || vb[1] != "0" {
		return r, fmt.Errorf("viewBox %q", root.attr("viewBox"))
	}
	r.view.w, _ = strconv.ParseFloat(vb[2], 64)
	r.view.h, _ = strconv.ParseFloat(vb[3], 64)
	if !(r.view.w > 0 && r.view.h > 0) {
		return r, fmt.Errorf("viewBox %q", root.attr("viewBox"))
	}
	// Accessible name and description, referenced by id.
	if len(root.children) == 0 || root.children[0].name != "title" {
		return r, fmt.Errorf("the first child is not <title>")
	}
	title := root.children[0]
	if title.attr("id") == "" || root.attr("aria-labelledby") != title.attr("id") || strings.TrimSpace(title.text) == "" {
		return r, fmt.Errorf("title id %q, aria-labelledby %q, text %q", title.attr("id"), root.attr("aria-labelledby"), title.text)
	}
	if d := root.attr("aria-describedby"); d != "" {
		if len(root.children) < 2 || root.children[1].name != "desc" || root.children[1].attr("id") != d {
			return r, fmt.Errorf("aria-describedby %q names no <desc>", d)
		}
	}
	ids := map[string]bool{}
	var problems []string
	root.walk(func(e *node) {
		if !allowedElements[e.name] {
			problems = append(problems, "element <"+e.name+">")
		}
		for k, v := range e.attrs {
			if !allowedAttrs[k] {
				problems = append(problems, fmt.Sprintf("attribute %s on <%s>", k, e.name))
			}
			// Numbers are plain decimals: never NaN, Inf or an exponent,
			// which strconv would accept but SVG does not.
			if numericAttrs[k] && !(e == root && k == "width") && !decimalRE.MatchString(v) {
				problems = append(problems, fmt.Sprintf("%s=%q on <%s>", k, v, e.name))
			}
			if k == "d" && !pathRE.MatchString(v) {
				problems = append(problems, fmt.Sprintf("d=%q on <%s>", v, e.name))
			}
			if k == "viewBox" && !viewBoxRE.MatchString(v) {
				problems = append(problems, fmt.Sprintf("viewBox=%q", v))
			}
		}
		if id := e.attr("id"); id != "" {
			if ids[id] {
				problems = append(problems, "id "+id+" twice")
			}
			ids[id] = true
		}
	})
	if len(problems) > 0 {
		return r, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	// Paint references stay inside the document.
	root.walk(func(e *node) {
		for _, k := range []string{"fill", "stroke"} {
			for _, m := range urlRE.FindAllStringSubmatch(e.attr(k), -1) {
				if !strings.HasPrefix(m[1], "#") || !ids[m[1][1:]] {
					problems = append(problems, fmt.Sprintf("%s=%q refers to no pattern of the chart", k, e.attr(k)))
				}
			}
		}
	})
	if len(problems) > 0 {
		return r, fmt.Errorf("%s", strings.Join(problems, "; "))
	}

	plots := root.find(func(e *node) bool { return e.name == "rect" && e.hasClass("plot") })
	r.marks = root.find(func(e *node) bool { return e.hasClass("mark") })
	r.noData = len(root.find(func(e *node) bool { return e.hasClass("no-data") })) > 0
	if r.noData {
		if len(plots) != 0 || len(r.marks) != 0 {
			return r, fmt.Errorf("the no-data state draws a plot or marks")
		}
		return r, nil
	}
	if len(plots) != 1 {
		return r, fmt.Errorf("%d plot areas", len(plots))
	}
	p := attrBox(plots[0])
	r.plot = &p
	if !(p.w > 0 && p.h > 0) || !r.view.contains(p.x, p.y, 0.01) || !r.view.contains(p.x+p.w, p.y+p.h, 0.01) {
		return r, fmt.Errorf("plot area %+v outside the view %+v", p, r.view)
	}
	// Every mark is inside the plot and has a tooltip.
	const eps = 0.011 // coordinates are written with two decimals
	for _, m := range r.marks {
		if len(m.children) == 0 || m.children[0].name != "title" || strings.TrimSpace(m.children[0].text) == "" {
			return r, fmt.Errorf("a mark without a tooltip: <%s %v>", m.name, m.attrs)
		}
		switch m.name {
		case "circle":
			if x, y := num(m, "cx"), num(m, "cy"); !p.contains(x, y, eps) {
				return r, fmt.Errorf("marker at %g,%g outside the plot %+v (%s)", x, y, p, m.children[0].text)
			}
		case "path": // a marker shape: its centre is in the plot
			xs, ys := pathPoints(m.attr("d"))
			cx, cy := (slicesMin(xs)+slicesMax(xs))/2, (slicesMin(ys)+slicesMax(ys))/2
			if !p.contains(cx, cy, 2*eps) {
				return r, fmt.Errorf("marker at %g,%g outside the plot %+v (%s)", cx, cy, p, m.children[0].text)
			}
		case "rect":
			b := attrBox(m)
			if b.w < 0 || b.h < 0 || !p.contains(b.x, b.y, eps) || !p.contains(b.x+b.w, b.y+b.h, eps) {
				return r, fmt.Errorf("bar %+v outside the plot %+v (%s)", b, p, m.children[0].text)
			}
		default:
			return r, fmt.Errorf("a mark is a <%s>", m.name)
		}
	}
	for _, l := range root.find(func(e *node) bool { return e.hasClass("line") }) {
		xs, ys := pathPoints(l.attr("d"))
		for i := range xs {
			if !p.contains(xs[i], ys[i], eps) {
				return r, fmt.Errorf("a line runs through %g,%g outside the plot %+v", xs[i], ys[i], p)
			}
		}
	}
	// Every text is on the chart.
	for _, e := range root.find(func(e *node) bool { return e.name == "text" }) {
		if x, y := num(e, "x"), num(e, "y"); !r.view.contains(x, y, eps) {
			return r, fmt.Errorf("text %q at %g,%g off the chart %+v", e.allText(), x, y, r.view)
		}
	}
	return r, nil
}

func num(n *node, k string) float64 {
	v, _ := strconv.ParseFloat(n.attr(k), 64)
	return v
}

func attrBox(n *node) box {
	return box{num(n, "x"), num(n, "y"), num(n, "width"), num(n, "height")}
}

// pathPoints returns the coordinates of a path made of M, L and Z.
func pathPoints(d string) (xs, ys []float64) {
	ns := numberRE.FindAllString(d, -1)
	for i := 0; i+1 < len(ns); i += 2 {
		x, _ := strconv.ParseFloat(ns[i], 64)
		y, _ := strconv.ParseFloat(ns[i+1], 64)
		xs, ys = append(xs, x), append(ys, y)
	}
	return xs, ys
}

func slicesMin(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

func slicesMax(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// inspectTable parses a data table and returns its body's rows, each the
// text of its cells.
func inspectTable(doc []byte) (caption string, header []string, rows [][]string, err error) {
	root, err := parseXML(doc)
	if err != nil {
		return "", nil, nil, fmt.Errorf("not well-formed: %v", err)
	}
	if root.name != "table" {
		return "", nil, nil, fmt.Errorf("root is <%s>", root.name)
	}
	for _, c := range root.find(func(e *node) bool { return e.name == "caption" }) {
		caption = c.allText()
	}
	for _, th := range root.find(func(e *node) bool { return e.name == "thead" }) {
		for _, c := range th.find(func(e *node) bool { return e.name == "th" }) {
			header = append(header, c.allText())
		}
	}
	for _, tb := range root.find(func(e *node) bool { return e.name == "tbody" }) {
		for _, tr := range tb.children {
			var row []string
			for _, c := range tr.children {
				row = append(row, c.allText())
			}
			rows = append(rows, row)
		}
	}
	return caption, header, rows, nil
}
