package chart

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestNiceScaleProperties checks the axis over many ranges, from tiny
// fractions to int64-sized amounts, both signs, equal ends: the ticks cover
// the range, are evenly spaced by a step of 1, 2 or 5 times a power of ten,
// are whole multiples of it, and are not too many.
func TestNiceScaleProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	magnitudes := []float64{1e-9, 1e-4, 0.01, 1, 7, 100, 1e4, 1e6, 1e9, 1e12, 1e15, 9.2e18, 1e21}
	value := func() float64 {
		m := magnitudes[rng.IntN(len(magnitudes))]
		v := m * rng.Float64()
		switch rng.IntN(5) {
		case 0:
			return 0
		case 1:
			return -v
		}
		return v
	}
	for i := range 20000 {
		lo, hi := value(), value()
		switch i % 7 {
		case 0:
			hi = lo // one value, or all equal
		case 1:
			hi = lo + math.Abs(lo)*1e-6 // a very narrow range
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		target := 2 + rng.IntN(9)
		integer := rng.IntN(3) == 0
		s := niceScale(lo, hi, target, integer)
		if err := checkScale(s, lo, hi, target, integer); err != nil {
			t.Fatalf("niceScale(%g, %g, %d, %v) = %v (step %g): %v", lo, hi, target, integer, s.ticks, s.step, err)
		}
	}
}

func checkScale(s scale, lo, hi float64, target int, integer bool) error {
	n := len(s.ticks)
	if n < 2 {
		return fmt.Errorf("%d ticks", n)
	}
	// Rounding the step up to a nice number and the ends out to it can
	// more than double the count only for the smallest targets.
	if n > 2*target+2 {
		return fmt.Errorf("%d ticks for a target of %d", n, target)
	}
	for _, v := range s.ticks {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("tick %v", v)
		}
	}
	if s.lo() > lo || s.hi() < hi {
		return fmt.Errorf("ticks %g…%g do not cover %g…%g", s.lo(), s.hi(), lo, hi)
	}
	if lo == hi && lo != 0 && !(s.lo() < lo && lo < s.hi()) {
		return fmt.Errorf("a single value %g sits on an end of %g…%g", lo, s.lo(), s.hi())
	}
	mant := s.step / math.Pow10(s.exp)
	if !near(mant, 1) && !near(mant, 2) && !near(mant, 5) {
		return fmt.Errorf("step %g is %g × 10^%d, not 1, 2 or 5", s.step, mant, s.exp)
	}
	if integer && s.step < 1 {
		return fmt.Errorf("step %g for counts", s.step)
	}
	for i, v := range s.ticks {
		k := v / s.step
		if !near(k, math.Round(k)) {
			return fmt.Errorf("tick %g is not a multiple of %g", v, s.step)
		}
		// Adjacent ticks are one step apart, up to the rounding of a float64
		// as large as the tick.
		ulp := math.Nextafter(math.Abs(v), math.Inf(1)) - math.Abs(v)
		if i > 0 && math.Abs(v-s.ticks[i-1]-s.step) > 4*ulp+1e-9*s.step {
			return fmt.Errorf("ticks %g and %g are not one step %g apart", s.ticks[i-1], v, s.step)
		}
		if i > 0 && v <= s.ticks[i-1] {
			return fmt.Errorf("ticks not increasing at %g", v)
		}
	}
	return nil
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// TestNiceScaleExamples pins what a reader sees for common ranges.
func TestNiceScaleExamples(t *testing.T) {
	cases := []struct {
		lo, hi  float64
		target  int
		integer bool
		want    []float64
	}{
		{0, 7_343_000, 5, false, []float64{0, 2e6, 4e6, 6e6, 8e6}},
		{0, 0.071, 4, false, []float64{0, 0.02, 0.04, 0.06, 0.08}},
		{0, 0.071, 3, false, []float64{0, 0.05, 0.1}},
		{0, 3, 6, true, []float64{0, 1, 2, 3}},
		{0, 0, 4, true, []float64{0, 1}},
		{0, 0, 4, false, []float64{0, 0.5, 1}},
		{639, 686, 4, true, []float64{620, 640, 660, 680, 700}},
		{-310_000, 1_390_000, 5, false, []float64{-500_000, 0, 500_000, 1_000_000, 1_500_000}},
		{612, 612, 4, false, []float64{550, 600, 650, 700}},
		{0.1, 0.3, 3, false, []float64{0.1, 0.2, 0.3}},
	}
	for _, c := range cases {
		got := niceScale(c.lo, c.hi, c.target, c.integer).ticks
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("niceScale(%g, %g, %d, %v) = %v, want %v", c.lo, c.hi, c.target, c.integer, got, c.want)
		}
	}
}

// TestPaletteContrast checks the colours against the chart's white ground:
// each series colour at least 3:1 (WCAG 2.2, 1.4.11, graphical objects), text
// at least 4.5:1 (1.4.3), and each pattern's tint light enough that the
// series colour on it still reads.
func TestPaletteContrast(t *testing.T) {
	for i, c := range palette {
		if r := contrast(c, background); r < 3 {
			t.Errorf("series colour %d %s has contrast %.2f on white, under 3:1", i, c, r)
		}
		if r := contrast(c, tint(c)); r < 2 {
			t.Errorf("series colour %d %s has contrast %.2f on its tint %s", i, c, r, tint(c))
		}
	}
	for _, c := range []string{ink, inkSoft} {
		if r := contrast(c, background); r < 4.5 {
			t.Errorf("text colour %s has contrast %.2f on white, under 4.5:1", c, r)
		}
	}
	if r := contrast(axisColour, background); r < 3 {
		t.Errorf("axis colour %s has contrast %.2f, under 3:1", axisColour, r)
	}
	seen := map[string]bool{}
	for _, c := range palette {
		if seen[c] {
			t.Errorf("colour %s is used twice", c)
		}
		seen[c] = true
	}
}

// contrast is WCAG's contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

func luminance(c string) float64 {
	var r, g, b int
	if _, err := fmt.Sscanf(c, "#%02x%02x%02x", &r, &g, &b); err != nil {
		panic(c)
	}
	lin := func(v int) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

func TestWrap(t *testing.T) {
	cases := []struct {
		s        string
		room     float64
		maxLines int
		want     []string
	}{
		{"Outstanding", 200, 2, []string{"Outstanding"}},
		{"Invoice financing against platform receivables", 13 * 0.62 * 20, 2, []string{"Invoice financing", "against platform…"}},
		{"应收账款融资（平台回款质押）", 13 * 7, 2, []string{"应收账款融资（", "平台回款质押）"}},
		{"应收账款融资（平台回款质押）", 13 * 5, 2, []string{"应收账款融", "资（平台…"}},
		{"Supercalifragilistic", 13 * 0.62 * 8, 3, []string{"Supercal", "ifragili", "stic"}},
		{"  two  spaces  ", 200, 2, []string{"two  spaces"}},
		{"", 100, 2, nil},
	}
	for _, c := range cases {
		got := wrap(c.s, c.room, 13, c.maxLines)
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", c.want) {
			t.Errorf("wrap(%q, %g) = %q, want %q", c.s, c.room, got, c.want)
		}
		for _, l := range got {
			if textWidth(l, 13) > c.room+1e-9 {
				t.Errorf("wrap(%q): line %q is wider (%g) than %g", c.s, l, textWidth(l, 13), c.room)
			}
		}
	}
}

func TestFit(t *testing.T) {
	cases := []struct {
		s    string
		room float64
		want string
	}{
		{"Sales", 100, "Sales"},
		{"  Sales  ", 100, "Sales"},
		{"-CNY 18,000,000,000.00", 13 * 0.62 * 10, "-CNY 18,…"},
		{"应收账款融资", 13 * 4, "应收账…"},
		{"   ", 100, ""},
	}
	for _, c := range cases {
		got := fit(c.s, c.room, 13)
		if got != c.want {
			t.Errorf("fit(%q, %g) = %q, want %q", c.s, c.room, got, c.want)
		}
		if textWidth(got, 13) > c.room+1e-9 {
			t.Errorf("fit(%q, %g) = %q is %g wide", c.s, c.room, got, textWidth(got, 13))
		}
	}
}

func TestClean(t *testing.T) {
	cases := map[string]string{
		"plain":              "plain",
		"a\nb\tc":            "a b c",
		"bell\x07":           "bell\uFFFD",
		"bad \xff utf8":      "bad \uFFFD utf8",
		"\uFFFE":             "\uFFFD",
		"中文 ok":              "中文 ok",
		"emoji 📈 stays":      "emoji 📈 stays",
		"<b>&\"'</b>":        "<b>&\"'</b>", // escaping is escape's job
		"\x00nul":            "\uFFFDnul",
		"high \U0010FFFF ok": "high \U0010FFFF ok",
	}
	for in, want := range cases {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
	if got := escape(`<a href="x">'&'</a>`); got != "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;" {
		t.Errorf("escape: %s", got)
	}
}

func TestNum(t *testing.T) {
	cases := map[float64]string{0: "0", 1: "1", 1.5: "1.5", 1.005: "1", 2.456: "2.46", -0.001: "0",
		-3.25: "-3.25", 100: "100", math.NaN(): "0", math.Inf(1): "0"}
	for in, want := range cases {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}
