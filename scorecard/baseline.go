package scorecard

import (
	"context"
	"math"
)

// oneHot encodes columns for the plain logistic-regression baseline: an intercept,
// each numeric column standardised by its training mean and standard deviation
// (a missing value becomes the mean, with an indicator column when training had
// missing values), and each categorical column one-hot with one column per
// training level (and one for missing); with the L2 penalty no reference level
// needs to be dropped. A level unseen in training encodes as all zeros.
type oneHot struct {
	cols []encCol
	p    int
}

type encCol struct {
	name        string
	categorical bool
	at          int // numeric: the value's design column
	mean, sd    float64
	missAt      int            // the missing indicator's design column, or −1
	levels      map[string]int // categorical: level → design column
}

func newOneHot(cols []*Column) *oneHot {
	o := &oneHot{p: 1}
	for _, c := range cols {
		e := encCol{name: c.Name, categorical: c.Kind == Categorical, missAt: -1}
		missing := false
		if e.categorical {
			e.levels = make(map[string]int)
			seen := make([]bool, len(c.Levels))
			for _, v := range c.Values {
				if math.IsNaN(v) {
					missing = true
				} else {
					seen[int(v)] = true
				}
			}
			for k, s := range c.Levels {
				if seen[k] {
					e.levels[s] = o.p
					o.p++
				}
			}
		} else {
			var n, s, ss float64
			for _, v := range c.Values {
				if math.IsNaN(v) {
					missing = true
					continue
				}
				n++
				s += v
			}
			if n == 0 {
				continue
			}
			e.mean = s / n
			for _, v := range c.Values {
				if !math.IsNaN(v) {
					ss += (v - e.mean) * (v - e.mean)
				}
			}
			e.sd = math.Sqrt(ss / n)
			if e.sd == 0 {
				continue // constant: no information
			}
			e.at = o.p
			o.p++
		}
		if missing {
			e.missAt = o.p
			o.p++
		}
		o.cols = append(o.cols, e)
	}
	return o
}

// encode returns the design matrix of t's rows.
func (o *oneHot) encode(t *Table) *design {
	d := &design{p: o.p}
	type src struct {
		c       *Column
		byLevel []int
	}
	srcs := make([]src, len(o.cols))
	for i, e := range o.cols {
		c := t.Column(e.name)
		srcs[i].c = c
		if e.categorical && c != nil {
			srcs[i].byLevel = make([]int, len(c.Levels))
			for k, s := range c.Levels {
				if at, ok := e.levels[s]; ok {
					srcs[i].byLevel[k] = at
				} else {
					srcs[i].byLevel[k] = -1
				}
			}
		}
	}
	x := make([]float64, o.p)
	for r := 0; r < t.Len(); r++ {
		clear(x)
		x[0] = 1
		for i, e := range o.cols {
			c := srcs[i].c
			if c == nil {
				continue
			}
			v := c.Values[r]
			if math.IsNaN(v) {
				if e.missAt >= 0 {
					x[e.missAt] = 1
				}
				continue
			}
			if e.categorical {
				if c.Kind != Categorical {
					continue
				}
				if at := srcs[i].byLevel[int(v)]; at >= 0 {
					x[at] = 1
				}
			} else {
				x[e.at] = (v - e.mean) / e.sd
			}
		}
		d.addRow(x)
	}
	return d
}

type baselineModel struct {
	enc  *oneHot
	beta []float64
}

func fitOneHot(ctx context.Context, cols []*Column, y []float64, lambda float64) (*baselineModel, error) {
	enc := newOneHot(cols)
	t := &Table{Columns: cols, Lines: make([]int, len(y))}
	f, err := fitLogistic(ctx, enc.encode(t), y, lambda)
	if err != nil {
		return nil, err
	}
	return &baselineModel{enc: enc, beta: f.beta}, nil
}

func (b *baselineModel) predict(t *Table) []float64 {
	d := b.enc.encode(t)
	out := make([]float64, d.n)
	for i := range out {
		out[i] = sigmoid(d.eta(i, b.beta))
	}
	return out
}
