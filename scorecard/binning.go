package scorecard

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// BinKind says which values a bin holds.
type BinKind string

const (
	BinRange      BinKind = "range"      // numbers in [Lo, Hi)
	BinCategories BinKind = "categories" // the listed categories
	BinSpecial    BinKind = "special"    // one declared special value (such as "no history")
	BinMissing    BinKind = "missing"    // missing values
)

// Trend is how the bad rate of a numeric characteristic moves as its value rises.
type Trend string

const (
	TrendAuto       Trend = "auto"       // monotonic, in whichever direction gives the higher IV
	TrendAscending  Trend = "ascending"  // the bad rate rises with the value
	TrendDescending Trend = "descending" // the bad rate falls as the value rises
	TrendNone       Trend = "none"       // no monotonic constraint
)

// Bin is one attribute of a characteristic (Siddiqi's terms): the values it holds,
// the training rows that fell in it and what it is worth.
type Bin struct {
	Kind       BinKind  `json:"kind"`
	Label      string   `json:"label"`
	Lo         *float64 `json:"lo,omitempty"` // inclusive; absent: unbounded below
	Hi         *float64 `json:"hi,omitempty"` // exclusive; absent: unbounded above
	Categories []string `json:"categories,omitempty"`
	Value      *float64 `json:"value,omitempty"` // a special bin's value
	Count      int      `json:"count"`           // training rows in the bin
	Bads       int      `json:"bads"`            // of which bad
	WoE        float64  `json:"woe"`             // ln(%good / %bad): higher is safer
	IV         float64  `json:"iv"`              // (%good − %bad) · WoE
	Points     float64  `json:"points"`          // the scaled points of the attribute
}

// group is a bin under construction.
type group struct {
	lo, hi float64 // ranges
	codes  []int   // categories
	n, bad int
}

func (g group) rate() float64 {
	if g.n == 0 {
		return 0
	}
	return float64(g.bad) / float64(g.n)
}

func mergeGroups(a, b group) group {
	return group{lo: a.lo, hi: b.hi, codes: append(slices.Clone(a.codes), b.codes...), n: a.n + b.n, bad: a.bad + b.bad}
}

// mergeSmall merges the smallest group below minCount into the neighbour with the
// closer bad rate until every group holds minCount rows or one group is left. The
// groups are in a meaningful order (by value, or by bad rate), so only neighbours
// merge: coarse classing in Siddiqi's sense.
func mergeSmall(gs []group, minCount int) []group {
	for len(gs) > 1 {
		small := -1
		for i, g := range gs {
			if g.n < minCount && (small < 0 || g.n < gs[small].n) {
				small = i
			}
		}
		if small < 0 {
			break
		}
		j := small - 1
		if small == 0 {
			j = 1
		} else if small < len(gs)-1 {
			dl := math.Abs(gs[small].rate() - gs[small-1].rate())
			dr := math.Abs(gs[small].rate() - gs[small+1].rate())
			if dr < dl || (dr == dl && gs[small+1].n < gs[small-1].n) {
				j = small + 1
			}
		}
		a, b := min(small, j), max(small, j)
		gs[a] = mergeGroups(gs[a], gs[b])
		gs = slices.Delete(gs, b, b+1)
	}
	return gs
}

// monotone merges neighbours (pool adjacent violators) until the bad rate strictly
// rises (ascending) or strictly falls along the groups.
func monotone(gs []group, ascending bool) []group {
	out := make([]group, 0, len(gs))
	for _, g := range gs {
		out = append(out, g)
		for len(out) > 1 {
			a, b := out[len(out)-2], out[len(out)-1]
			// Compare bad rates by cross-multiplication so equal rates are exactly equal.
			ra, rb := float64(a.bad)*float64(b.n), float64(b.bad)*float64(a.n)
			if (ascending && ra < rb) || (!ascending && ra > rb) {
				break
			}
			out = out[:len(out)-1]
			out[len(out)-1] = mergeGroups(a, b)
		}
	}
	return out
}

// woe returns the weight of evidence ln(%good / %bad) of a bin with n rows of which
// bad are bad, against totals goods and bads. A bin of one class would have an
// infinite WoE; it gets half a row added to its goods and its bads (the usual
// small-count adjustment, Anderson 2007), and only then.
func woe(n, bad int, goods, bads float64) float64 {
	g, b := float64(n-bad), float64(bad)
	if g == 0 || b == 0 {
		g, b = g+0.5, b+0.5
	}
	return math.Log((g / goods) / (b / bads))
}

func ivOf(n, bad int, goods, bads float64) float64 {
	return (float64(n-bad)/goods - float64(bad)/bads) * woe(n, bad, goods, bads)
}

func groupsIV(gs []group, goods, bads float64) float64 {
	s := 0.0
	for _, g := range gs {
		s += ivOf(g.n, g.bad, goods, bads)
	}
	return s
}

type binParams struct {
	fine     int
	minCount int
	trend    Trend
	special  []float64
}

// binNumeric classes a numeric characteristic: quantile fine classes, merged until
// each holds minCount rows and, unless the trend is none, the bad rate is monotonic.
// Missing values and each special value present get their own bins.
func binNumeric(vals, y []float64, p binParams) ([]Bin, Trend) {
	type pair struct{ v, y float64 }
	var regular []pair
	var missN, missBad int
	specN := make(map[float64]int)
	specBad := make(map[float64]int)
	goods, bads := 0.0, 0.0
	for i, v := range vals {
		if y[i] == 1 {
			bads++
		} else {
			goods++
		}
		switch {
		case math.IsNaN(v):
			missN++
			missBad += int(y[i])
		case slices.Contains(p.special, v):
			specN[v]++
			specBad[v] += int(y[i])
		default:
			regular = append(regular, pair{v, y[i]})
		}
	}
	var gs []group
	trend := p.trend
	if len(regular) > 0 {
		slices.SortFunc(regular, func(a, b pair) int {
			switch {
			case a.v < b.v:
				return -1
			case a.v > b.v:
				return 1
			}
			return 0
		})
		m := len(regular)
		cuts := []float64{}
		for i := 1; i < p.fine; i++ {
			c := regular[i*m/p.fine].v
			if c > regular[0].v && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
				cuts = append(cuts, c)
			}
		}
		gs = make([]group, len(cuts)+1)
		for k := range gs {
			gs[k].lo, gs[k].hi = math.Inf(-1), math.Inf(1)
			if k > 0 {
				gs[k].lo = cuts[k-1]
			}
			if k < len(cuts) {
				gs[k].hi = cuts[k]
			}
		}
		k := 0
		for _, r := range regular {
			for k < len(cuts) && r.v >= cuts[k] {
				k++
			}
			gs[k].n++
			gs[k].bad += int(r.y)
		}
		gs = mergeSmall(gs, p.minCount)
		switch trend {
		case TrendAscending:
			gs = monotone(gs, true)
		case TrendDescending:
			gs = monotone(gs, false)
		case TrendAuto:
			up, down := monotone(slices.Clone(gs), true), monotone(slices.Clone(gs), false)
			if groupsIV(down, goods, bads) > groupsIV(up, goods, bads) {
				gs, trend = down, TrendDescending
			} else {
				gs, trend = up, TrendAscending
			}
		}
	}
	bins := make([]Bin, 0, len(gs)+len(specN)+1)
	for i, g := range gs {
		b := Bin{Kind: BinRange, Count: g.n, Bads: g.bad}
		if i > 0 {
			b.Lo = ptr(g.lo)
		}
		if i < len(gs)-1 {
			b.Hi = ptr(g.hi)
		}
		b.Label = rangeLabel(b.Lo, b.Hi)
		bins = append(bins, b)
	}
	specials := make([]float64, 0, len(specN))
	for v := range specN {
		specials = append(specials, v)
	}
	sort.Float64s(specials)
	for _, v := range specials {
		bins = append(bins, Bin{Kind: BinSpecial, Label: "= " + fmtNum(v), Value: ptr(v), Count: specN[v], Bads: specBad[v]})
	}
	if missN > 0 {
		bins = append(bins, Bin{Kind: BinMissing, Label: "missing", Count: missN, Bads: missBad})
	}
	setWoE(bins, goods, bads)
	return bins, trend
}

// binCategorical groups a categorical characteristic's levels: levels below
// minCount rows are pooled, the groups are ordered by bad rate and neighbours
// merged until each group holds minCount rows. Ordering by bad rate makes the
// grouping monotonic by construction. Missing values get their own bin.
func binCategorical(codes []float64, levels []string, y []float64, minCount int) []Bin {
	n := make([]int, len(levels))
	bad := make([]int, len(levels))
	var missN, missBad int
	goods, bads := 0.0, 0.0
	for i, v := range codes {
		if y[i] == 1 {
			bads++
		} else {
			goods++
		}
		if math.IsNaN(v) {
			missN++
			missBad += int(y[i])
			continue
		}
		n[int(v)]++
		bad[int(v)] += int(y[i])
	}
	var gs []group
	rare := group{}
	for k := range levels {
		switch {
		case n[k] == 0:
		case n[k] < minCount:
			rare.codes = append(rare.codes, k)
			rare.n += n[k]
			rare.bad += bad[k]
		default:
			gs = append(gs, group{codes: []int{k}, n: n[k], bad: bad[k]})
		}
	}
	if rare.n > 0 {
		gs = append(gs, rare)
	}
	slices.SortStableFunc(gs, func(a, b group) int {
		ra, rb := float64(a.bad)*float64(b.n), float64(b.bad)*float64(a.n)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	gs = mergeSmall(gs, minCount)
	bins := make([]Bin, 0, len(gs)+1)
	for _, g := range gs {
		cats := make([]string, len(g.codes))
		for i, k := range g.codes {
			cats[i] = levels[k]
		}
		sortLabels(cats)
		bins = append(bins, Bin{Kind: BinCategories, Label: "{" + strings.Join(cats, ", ") + "}", Categories: cats, Count: g.n, Bads: g.bad})
	}
	if missN > 0 {
		bins = append(bins, Bin{Kind: BinMissing, Label: "missing", Count: missN, Bads: missBad})
	}
	setWoE(bins, goods, bads)
	return bins
}

func setWoE(bins []Bin, goods, bads float64) {
	for i := range bins {
		bins[i].WoE = woe(bins[i].Count, bins[i].Bads, goods, bads)
		bins[i].IV = ivOf(bins[i].Count, bins[i].Bads, goods, bads)
	}
}

// sortLabels orders category labels numerically when they are numbers.
func sortLabels(s []string) {
	slices.SortFunc(s, func(a, b string) int {
		fa, ea := strconv.ParseFloat(a, 64)
		fb, eb := strconv.ParseFloat(b, 64)
		switch {
		case ea == nil && eb == nil:
			if fa < fb {
				return -1
			} else if fa > fb {
				return 1
			}
			return 0
		case ea == nil:
			return -1
		case eb == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
}

func ptr(v float64) *float64 { return &v }

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func rangeLabel(lo, hi *float64) string {
	switch {
	case lo == nil && hi == nil:
		return "all values"
	case lo == nil:
		return "< " + fmtNum(*hi)
	case hi == nil:
		return ">= " + fmtNum(*lo)
	}
	return "[" + fmtNum(*lo) + ", " + fmtNum(*hi) + ")"
}
