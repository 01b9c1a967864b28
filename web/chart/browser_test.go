package chart_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dataport/dataport/internal/browsertest"
	"github.com/dataport/dataport/web/chart"
)

// TestChartsInChromium shows every fixture chart with its table in a real
// browser, at a phone's width and a desktop's, under a Content-Security-
// Policy that allows nothing but the page's own stylesheet, and measures what
// a person would see with the browser's real fonts: the charts fit their
// container and keep their proportions, no labels of an axis or legend
// overlap, no text sticks out of a chart, tick labels are at least 10 CSS
// pixels high on a phone, every mark is inside its plot, and the page asks
// the server for nothing else and breaks no policy. Screenshots of both
// widths are saved as test artifacts (go test -artifacts).
func TestChartsInChromium(t *testing.T) {
	srv := httptest.NewServer(chartPage(t))
	defer srv.Close()
	server, _ := url.Parse(srv.URL)
	tab, seen := browsertest.Start(t, 90*time.Second)

	artifacts := t.ArtifactDir()
	for _, v := range []struct {
		name          string
		width, height int64
		scale         float64
		mobile        bool
	}{
		{"phone", 360, 780, 2, true},
		{"desktop", 1280, 900, 1, false},
	} {
		vp := []chromedp.EmulateViewportOption{chromedp.EmulateScale(v.scale)}
		if v.mobile {
			vp = append(vp, chromedp.EmulateMobile, chromedp.EmulatePortrait)
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(v.width, v.height, vp...)); err != nil {
			t.Fatalf("%s: set the viewport: %v", v.name, err)
		}
		resp, err := chromedp.Run(tab, chromedp.NavigateResponse(srv.URL+"/?"+v.name))
		if err != nil {
			t.Fatalf("%s: open the page: %v\n%s", v.name, err, seen.Report())
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: status %d", v.name, resp.Status)
		}
		// The page has no script, so it is complete at the load event that
		// the navigation waited for; the wait below only makes sure the
		// layout the measurements read is there.
		waitCtx, cancelWait := context.WithTimeout(tab, 20*time.Second)
		err = chromedp.Do(waitCtx, chromedp.WaitVisible(chromedp.CSS("figure:last-of-type svg")))
		cancelWait()
		if err != nil {
			t.Fatalf("%s: the charts did not appear: %v", v.name, err)
		}
		m, err := chromedp.Run(tab, chromedp.Evaluate[measurements](measureJS))
		if err != nil {
			t.Fatalf("%s: measure: %v", v.name, err)
		}
		if want := len(fixtures()) + len(hardCases()); m.Charts != want {
			t.Errorf("%s: %d charts on the page, want %d", v.name, m.Charts, want)
		}
		for _, p := range m.Problems {
			t.Errorf("%s: %s", v.name, p)
		}
		if m.ScrollWidth > m.ViewWidth {
			t.Errorf("%s: the page scrolls sideways: %dpx of content in a %dpx viewport", v.name, m.ScrollWidth, m.ViewWidth)
		}
		if v.mobile && m.SmallestTick < 10 {
			t.Errorf("%s: tick labels are %.1f CSS px high, under 10", v.name, m.SmallestTick)
		}
		shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", v.name, err)
		}
		path := filepath.Join(artifacts, "charts-"+v.name+".png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s; %+v", v.name, path, m)
	}

	for _, r := range seen.Outside(server) {
		t.Errorf("the page requested %s, which is not the test server", r)
	}
	for _, v := range seen.Security() {
		t.Errorf("Content-Security-Policy violation: %s", v)
	}
	if errs := append(seen.Exceptions(), seen.Errors()...); len(errs) > 0 {
		t.Errorf("the browser reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// chartPage serves the fixtures as a console page would inline them, with a
// policy that allows the page's own stylesheet and nothing else: no
// scripts, no inline styles, no images, no fonts.
func chartPage(t *testing.T) http.Handler {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1">` +
		`<title>charts</title><link rel="stylesheet" href="/page.css"></head><body><main>`)
	for _, f := range append(fixtures(), hardCases()...) {
		svg, err := chart.SVG(f.chart)
		if err != nil {
			t.Fatal(err)
		}
		table, err := chart.Table(f.chart)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, `<figure class="chart" data-name="%s">%s<details open><summary>Data</summary>%s</details></figure>`,
			html.EscapeString(f.name), svg, table)
	}
	b.WriteString(`</main></body></html>`)
	page := b.String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})
	mux.HandleFunc("GET /page.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		// A console page's layout: charts take the column's width, capped
		// on wide screens; tables scroll inside their box if they must.
		fmt.Fprint(w, `body{margin:0;font-family:system-ui,sans-serif}
main{padding:8px;max-width:40rem}
figure.chart{margin:0 0 24px}
figure.chart svg{display:block}
details{overflow-x:auto}
.chart-table{border-collapse:collapse;font-size:12px}
.chart-table td,.chart-table th{padding:2px 6px;text-align:right}`)
	})
	mux.HandleFunc("/", http.NotFound)
	return mux
}

// hardCases are charts whose texts are long or whose values are extreme:
// where the server's estimate of text widths is most likely to be wrong.
func hardCases() []fixture {
	money := chart.Axis{Title: "Amount", Format: chart.Money("CNY ", 2)}
	var six []chart.Series
	var sixBy []chart.CategorySeries
	for i := range chart.MaxSeries {
		s := chart.Series{Name: fmt.Sprintf("Shop number %d (Tmall)", i+1)}
		for d := range 90 {
			s.Points = append(s.Points, chart.Point{Day: day(asOf.AddDate(0, 0, d-89)), Value: float64((d*(i+3))%17) * 1e6})
		}
		six = append(six, s)
		sixBy = append(sixBy, chart.CategorySeries{Name: fmt.Sprintf("系列%d", i+1), Values: []float64{float64(i+1) * -3e9, float64(i) * 1e9}})
	}
	return []fixture{
		{"hard-six-series", &chart.TimeSeries{Frame: chart.Frame{Title: "Six shops, 90 days", NoData: "none"},
			Days: chart.DayAxis{Title: "Day", Short: func(d time.Time) string { return d.Format("Jan 2") }}, Value: money, Series: six}},
		{"hard-negative-categories", &chart.CategoryBars{Frame: chart.Frame{Title: "Losses", NoData: "none"},
			Categories: []string{"A", "B"}, Value: money, Series: sixBy}},
		{"hard-long-names", &chart.CategoryBars{Frame: chart.Frame{Title: "Long names", NoData: "none"},
			Categories:    []string{"Invoice financing against platform receivables, extended term", "短", "经营性信用贷款（含平台回款质押及应收账款融资）"},
			CategoryTitle: "A category axis title much longer than the chart is wide, to be shortened",
			Value:         chart.Axis{Title: "A value axis title much longer than the chart is wide, to be shortened"},
			Series:        []chart.CategorySeries{{Values: []float64{12, 7, 3}}}}},
		{"hard-long-days", &chart.DayBars{Frame: chart.Frame{Title: "Long day labels", NoData: "none"},
			Days:   chart.DayAxis{From: day(asOf.AddDate(0, 0, -9)), To: day(asOf), Short: func(d time.Time) string { return d.Format("Monday, 2 January 2006") }},
			Value:  chart.Axis{Format: func(v float64) string { return fmt.Sprintf("%.0f units of something", v) }},
			Series: []chart.Series{{Points: []chart.Point{{Day: day(asOf), Value: -4}, {Day: day(asOf.AddDate(0, 0, -9)), Value: 9}}}}}},
	}
}

type measurements struct {
	Charts       int      `json:"charts"`
	Problems     []string `json:"problems"`
	ViewWidth    int      `json:"viewWidth"`
	ScrollWidth  int      `json:"scrollWidth"`
	SmallestTick float64  `json:"smallestTick"`
}

// measureJS reads the laid-out page. Boxes are in CSS pixels; half a pixel
// of slack absorbs anti-aliasing and rounding.
const measureJS = `(() => {
  const problems = [];
  const box = e => e.getBoundingClientRect();
  const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
  const figures = [...document.querySelectorAll('figure[data-name]')];
  let smallestTick = Infinity;
  for (const f of figures) {
    const name = f.dataset.name;
    const svg = f.querySelector('svg');
    const s = box(svg), c = box(f), vb = svg.viewBox.baseVal;
    if (!(s.width > 0) || s.width > c.width + 0.5) problems.push(name + ': the chart is ' + s.width + 'px wide in a ' + c.width + 'px container');
    if (Math.abs(s.height - s.width * vb.height / vb.width) > 1.5) problems.push(name + ': ' + s.width + '×' + s.height + 'px does not keep the viewBox ' + vb.width + '×' + vb.height);
    for (const t of svg.querySelectorAll('text')) {
      const b = box(t);
      if (b.left < s.left - 0.5 || b.right > s.right + 0.5 || b.top < s.top - 0.5 || b.bottom > s.bottom + 0.5)
        problems.push(name + ': "' + t.textContent + '" sticks out of the chart');
    }
    for (const sel of ['.axis-day text', '.axis-value text', '.axis-category text', '.legend text']) {
      const els = [...svg.querySelectorAll(sel)].map(e => [e.textContent, box(e)]);
      for (let i = 0; i < els.length; i++) for (let j = i + 1; j < els.length; j++)
        if (overlap(els[i][1], els[j][1])) problems.push(name + ': "' + els[i][0] + '" and "' + els[j][0] + '" overlap (' + sel + ')');
    }
    // A legend name sits right of its own swatch; touching any swatch means
    // it ran into the next entry.
    for (const t of svg.querySelectorAll('.legend text'))
      for (const sw of svg.querySelectorAll('.legend > :not(text)'))
        if (overlap(box(t), box(sw))) problems.push(name + ': the legend entry "' + t.textContent + '" runs into another');
    const scale = s.width / vb.width;
    for (const t of svg.querySelectorAll('.axis text')) {
      const size = parseFloat(getComputedStyle(t).fontSize) * scale;
      smallestTick = Math.min(smallestTick, size);
    }
    const plot = svg.querySelector('rect.plot');
    if (plot) {
      const p = box(plot);
      for (const m of svg.querySelectorAll('.mark')) {
        const b = box(m), x = (b.left + b.right) / 2, y = (b.top + b.bottom) / 2;
        if (x < p.left - 0.5 || x > p.right + 0.5 || y < p.top - 0.5 || y > p.bottom + 0.5)
          problems.push(name + ': the mark "' + m.textContent + '" is outside the plot');
      }
      for (const g of svg.querySelectorAll('.legend, .axis-title')) {
        if (overlap(box(g), p)) problems.push(name + ': "' + g.textContent + '" covers the plot');
      }
    } else if (!svg.querySelector('.no-data')) {
      problems.push(name + ': neither a plot nor the no-data state');
    }
  }
  return {charts: figures.length, problems, viewWidth: innerWidth,
    scrollWidth: document.documentElement.scrollWidth, smallestTick};
})()`
