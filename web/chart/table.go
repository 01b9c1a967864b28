package chart

import (
	"bytes"
	"math"
	"strconv"
)

// missingCell is a table's cell for a day without a value.
const missingCell = "—"

// table writes the model's data as an HTML table: a row per day or category,
// a column per series, every value formatted exactly as in its tooltip. It
// is plain HTML with classes for the page's stylesheet, and no styles of its
// own.
func table(m *model) []byte {
	var b bytes.Buffer
	w := func(s ...string) {
		for _, t := range s {
			b.WriteString(t)
		}
	}
	w(`<table class="chart-table chart-table-`, kindNames[m.kind], `">`)
	w("<caption>", escape(m.frame.Title), "</caption>\n")
	if m.empty() {
		w(`<tbody><tr><td class="no-data">`, escape(m.frame.NoData), "</td></tr></tbody></table>\n")
		return b.Bytes()
	}
	w(`<thead><tr><th scope="col">`, escape(m.xTitle), "</th>")
	for _, s := range m.series {
		name := s.name
		if name == "" {
			name = m.value.Title // the one series is what the axis names
		}
		w(`<th scope="col">`, escape(name), "</th>")
	}
	w("</tr></thead>\n<tbody>\n")
	f := m.valueFormat()
	for j, x := range m.xLong {
		w(`<tr><th scope="row">`, escape(x), "</th>")
		for _, s := range m.series {
			v := s.values[j]
			if math.IsNaN(v) {
				w(`<td class="missing">`, missingCell, "</td>")
			} else {
				w(`<td data-value="`, strconv.FormatFloat(v, 'f', -1, 64), `">`, escape(label(f, v)), "</td>")
			}
		}
		w("</tr>\n")
	}
	w("</tbody></table>\n")
	return b.Bytes()
}
