package scorecard

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
)

// MaxReasons is the most reason codes a score carries (the four that US adverse
// action notices customarily give).
const MaxReasons = 4

// Score is a scored row.
type Score struct {
	Points     float64     `json:"points"`
	PD         float64     `json:"pd"` // probability of the bad outcome
	Grade      string      `json:"grade"`
	Attributes []Attribute `json:"attributes"` // the bin of each characteristic
	Reasons    []Reason    `json:"reasons"`    // at most MaxReasons, the costliest first
}

// Attribute is the bin a row fell into on one characteristic.
type Attribute struct {
	Feature string  `json:"feature"`
	Bin     string  `json:"bin"`
	Points  float64 `json:"points"`
}

// Reason is a reason code: a characteristic on which the row scored below the best
// attribute of that characteristic, and by how much.
type Reason struct {
	Feature    string  `json:"feature"`
	Bin        string  `json:"bin"`
	Points     float64 `json:"points"`
	MaxPoints  float64 `json:"max_points"`
	PointsLost float64 `json:"points_lost"`
}

// lookup finds a feature's bin for a value.
type lookup struct {
	categorical bool
	los         []float64 // lower edges of the range bins, ascending; the first is −∞
	ranges      []int
	special     map[float64]int
	cats        map[string]int
	missing     int
	unseen      int
	maxPoints   float64
}

func newLookup(f *Feature) lookup {
	l := lookup{categorical: f.Kind == Categorical.String(), missing: -1, unseen: f.Unseen,
		special: map[float64]int{}, cats: map[string]int{}, maxPoints: math.Inf(-1)}
	for i, b := range f.Bins {
		l.maxPoints = max(l.maxPoints, b.Points)
		switch b.Kind {
		case BinRange:
			lo := math.Inf(-1)
			if b.Lo != nil {
				lo = *b.Lo
			}
			l.los = append(l.los, lo)
			l.ranges = append(l.ranges, i)
		case BinSpecial:
			if b.Value != nil {
				l.special[*b.Value] = i
			}
		case BinCategories:
			for _, c := range b.Categories {
				l.cats[c] = i
			}
		case BinMissing:
			l.missing = i
		}
	}
	return l
}

func (l *lookup) number(v float64) int {
	if math.IsNaN(v) {
		if l.missing >= 0 {
			return l.missing
		}
		return l.unseen
	}
	if l.categorical {
		return l.category(fmtNum(v))
	}
	if i, ok := l.special[v]; ok {
		return i
	}
	k := sort.Search(len(l.los), func(i int) bool { return l.los[i] > v }) - 1
	if k < 0 {
		return l.unseen
	}
	return l.ranges[k]
}

func (l *lookup) category(s string) int {
	if i, ok := l.cats[s]; ok {
		return i
	}
	return l.unseen
}

// codes returns each row's bin for a column of a table.
func (l *lookup) codes(c *Column) []int32 {
	out := make([]int32, len(c.Values))
	if c.Kind == Categorical {
		byLevel := make([]int32, len(c.Levels))
		for k, s := range c.Levels {
			if l.categorical {
				byLevel[k] = int32(l.category(s))
			} else if v, err := strconv.ParseFloat(s, 64); err == nil {
				byLevel[k] = int32(l.number(v))
			} else {
				byLevel[k] = int32(l.unseen)
			}
		}
		for i, v := range c.Values {
			if math.IsNaN(v) {
				out[i] = int32(l.number(v))
			} else {
				out[i] = byLevel[int(v)]
			}
		}
		return out
	}
	for i, v := range c.Values {
		out[i] = int32(l.number(v))
	}
	return out
}

func (m *Model) buildLookups() {
	m.lookups = make([]lookup, len(m.Features))
	for i := range m.Features {
		m.lookups[i] = newLookup(&m.Features[i])
	}
}

// pdOf turns points back into the probability of bad: the points are
// Offset − Factor · logit(P(bad)).
func (m *Model) pdOf(points float64) float64 {
	return sigmoid((m.Scaling.Offset() - points) / m.Scaling.Factor())
}

func (m *Model) gradeOf(points float64) string {
	for _, g := range m.Grades {
		if g.MinPoints == nil || points >= *g.MinPoints {
			return g.Name
		}
	}
	return ""
}

func (m *Model) score(bins []int) Score {
	s := Score{Attributes: make([]Attribute, len(m.Features))}
	for j, f := range m.Features {
		b := f.Bins[bins[j]]
		s.Points += b.Points
		s.Attributes[j] = Attribute{Feature: f.Name, Bin: b.Label, Points: b.Points}
	}
	s.PD = m.pdOf(s.Points)
	s.Grade = m.gradeOf(s.Points)
	s.Reasons = m.reasons(bins)
	return s
}

// reasons returns the characteristics that cost the row most points against their
// best attribute, at most MaxReasons, ties in the order of the features.
func (m *Model) reasons(bins []int) []Reason {
	var rs []Reason
	for j, f := range m.Features {
		b := f.Bins[bins[j]]
		best := m.lookups[j].maxPoints
		if lost := best - b.Points; lost > 1e-9 {
			rs = append(rs, Reason{Feature: f.Name, Bin: b.Label, Points: b.Points, MaxPoints: best, PointsLost: lost})
		}
	}
	slices.SortStableFunc(rs, func(a, b Reason) int {
		switch {
		case a.PointsLost > b.PointsLost:
			return -1
		case a.PointsLost < b.PointsLost:
			return 1
		}
		return 0
	})
	if len(rs) > MaxReasons {
		rs = rs[:MaxReasons]
	}
	return rs
}

// Score scores one row given by column name. Every characteristic of the model
// must be present; nil (or a missing-value token such as "" or "NA") is a missing
// value. Numbers may be given as Go numbers, json.Number or strings.
func (m *Model) Score(row map[string]any) (Score, error) {
	const op = "scorecard.Score"
	if m.lookups == nil {
		m.buildLookups()
	}
	bins := make([]int, len(m.Features))
	var p dataport.Problems
	for j, f := range m.Features {
		v, ok := row[f.Name]
		if !ok {
			p.Add(f.Name, "absent: give every characteristic, with null for a missing value")
			continue
		}
		l := &m.lookups[j]
		switch x := v.(type) {
		case nil:
			bins[j] = l.number(math.NaN())
		case string:
			s := strings.TrimSpace(x)
			switch {
			case slices.Contains(DefaultMissing, s):
				bins[j] = l.number(math.NaN())
			case l.categorical:
				bins[j] = l.category(s)
			default:
				n, err := strconv.ParseFloat(s, 64)
				if err != nil || math.IsInf(n, 0) {
					p.Add(f.Name, "%q is not a number", x)
					continue
				}
				bins[j] = l.number(n)
			}
		default:
			n, ok := toFloat(v)
			if !ok {
				p.Add(f.Name, "a %T is neither a number nor a category", v)
				continue
			}
			bins[j] = l.number(n)
		}
	}
	if err := p.Err(op); err != nil {
		return Score{}, err
	}
	return m.score(bins), nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// tableBins returns, per feature, each row's bin.
func (m *Model) tableBins(t *Table) ([][]int32, error) {
	if m.lookups == nil {
		m.buildLookups()
	}
	out := make([][]int32, len(m.Features))
	for j, f := range m.Features {
		c := t.Column(f.Name)
		if c == nil {
			return nil, dataport.Errorf("scorecard.ScoreTable", dataport.KindInvalid, "the table has no column %q, a characteristic of the model", f.Name)
		}
		out[j] = m.lookups[j].codes(c)
	}
	return out, nil
}

// ScoreTable scores every row of t.
func (m *Model) ScoreTable(t *Table) ([]Score, error) {
	codes, err := m.tableBins(t)
	if err != nil {
		return nil, err
	}
	out := make([]Score, t.Len())
	bins := make([]int, len(m.Features))
	for r := range out {
		for j := range bins {
			bins[j] = int(codes[j][r])
		}
		out[r] = m.score(bins)
	}
	return out, nil
}

// pointsOf returns each row's points, and its bins per feature.
func (m *Model) pointsOf(t *Table) ([]float64, [][]int32, error) {
	codes, err := m.tableBins(t)
	if err != nil {
		return nil, nil, err
	}
	pts := make([]float64, t.Len())
	for j, f := range m.Features {
		for r, b := range codes[j] {
			pts[r] += f.Bins[b].Points
		}
	}
	return pts, codes, nil
}

func (m *Model) String() string {
	return fmt.Sprintf("scorecard %s %s (%d characteristics)", m.Version, m.ID, len(m.Features))
}
