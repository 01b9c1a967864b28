package chart

import (
	"math"
	"strconv"
)

// scale is a value axis: its ticks, evenly spaced "nice" numbers (1, 2 or 5
// times a power of ten) whose first and last are the axis's ends, so every
// value drawn lies between them.
type scale struct {
	ticks []float64
	step  float64
	// exp is the power of ten of step: a tick needs max(0, -exp) decimals.
	exp int
}

func (s scale) lo() float64 { return s.ticks[0] }
func (s scale) hi() float64 { return s.ticks[len(s.ticks)-1] }

// at returns where v lies between the axis's ends, from 0 (lo) to 1 (hi).
func (s scale) at(v float64) float64 { return (v - s.lo()) / (s.hi() - s.lo()) }

// decimals is how many decimals a tick label needs to tell the ticks apart.
func (s scale) decimals() int { return max(0, -s.exp) }

// niceScale returns the axis covering lo…hi (lo <= hi, both finite and within
// maxMagnitude) with about target ticks. integer keeps the step at 1 or more,
// for counts. When lo == hi the axis is widened around the value, so that a
// single value sits inside the axis, not on an end.
func niceScale(lo, hi float64, target int, integer bool) scale {
	target = max(target, 2)
	if lo == hi {
		pad := math.Abs(lo) * 0.1
		if pad == 0 {
			pad = 1
		}
		// A value of 0 keeps 0 at the bottom: a chart of all-zero counts
		// reads 0…1, not -1…1.
		if lo == 0 {
			hi = pad
		} else {
			lo, hi = lo-pad, hi+pad
		}
	}
	raw := (hi - lo) / float64(target-1)
	// A step far below the values' own magnitude would make ticks that float64
	// cannot tell apart (1e18 and 1e18+1 are the same number); keep a step
	// that stays well inside float64's 53 bits of precision.
	raw = max(raw, math.Max(math.Abs(lo), math.Abs(hi))*1e-12)
	if integer {
		raw = max(raw, 1)
	}
	// The step is the nice number nearest the raw one (Heckbert's rounding),
	// not the next one up: 2.4 becomes 2, giving five ticks where rounding up
	// to 5 would leave three.
	exp := int(math.Floor(math.Log10(raw)))
	f := raw / pow10(exp)
	var mant float64
	switch {
	case f < 1.5:
		mant = 1
	case f < 3:
		mant = 2
	case f < 7:
		mant = 5
	default:
		mant, exp = 1, exp+1
	}
	if integer && mant*pow10(exp) < 1 { // 1.2 rounds to 1; nothing rounds below
		mant, exp = 1, 0
	}
	step := mant * pow10(exp)
	// The ends are the multiples of step just outside lo and hi. Division
	// can land a hair off a whole number (0.3/0.1 is 2.9999999999999996), so
	// each end is checked against the tick it gives and moved in if the tick
	// next to it still covers the value.
	first, last := math.Floor(lo/step), math.Ceil(hi/step)
	if tickValue((first+1)*mant, exp) <= lo {
		first++
	}
	if tickValue((last-1)*mant, exp) >= hi {
		last--
	}
	if last <= first { // one value at zero: an axis needs two ends
		last = first + 1
	}
	ticks := make([]float64, 0, int(last-first)+1)
	for i := first; i <= last; i++ {
		ticks = append(ticks, tickValue(i*mant, exp))
	}
	return scale{ticks: ticks, step: step, exp: exp}
}

// tickValue returns n × 10^exp as the float64 nearest the decimal number, so
// that 3 × 10^-1 is 0.3 and not 0.30000000000000004: n is a whole number and
// 10^|exp| is exact for the exponents an axis uses, so one correctly rounded
// multiplication or division gives the nearest value. Formatting the decimal
// and parsing it covers the rest.
func tickValue(n float64, exp int) float64 {
	if n == 0 {
		return 0 // not -0
	}
	if exp >= 0 && exp <= 22 {
		return n * pow10(exp)
	}
	if exp < 0 && exp >= -22 {
		return n / pow10(-exp)
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(n, 'f', 0, 64)+"e"+strconv.Itoa(exp), 64)
	return v
}

// pow10 returns 10^e exactly for |e| <= 22 (math.Pow10 is exact there too;
// the name keeps the intent readable).
func pow10(e int) float64 { return math.Pow10(e) }

// tickTarget is how many ticks fit along length units when each takes about
// room units, kept between lo and hi.
func tickTarget(length, room float64, lo, hi int) int {
	n := int(length/room) + 1
	return min(max(n, lo), hi)
}
