package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
)

// naive answers a Request the slow, obvious way: every live document, every term.
type naive struct {
	docs map[string]Doc
}

func (nv *naive) search(q Request, fieldNames []string) Result {
	hidden := func(d Doc) bool {
		for field, vals := range q.Hide {
			f := slices.Index(fieldNames, field)
			if f >= 0 && slices.Contains(vals, d.Fields[f]) {
				return true
			}
		}
		return false
	}
	var live []Doc
	var total int64
	for _, d := range nv.docs {
		live = append(live, d)
		total += min(max(d.Length, 1), math.MaxUint32)
	}
	avg := float64(total) / math.Max(1, float64(len(live)))
	df := map[string]int{}
	for _, d := range live {
		for t, tf := range d.Terms {
			if tf > 0 {
				df[t]++
			}
		}
	}
	type hit struct {
		d     Doc
		score float64
	}
	var hits []hit
	facets := map[string]map[string]int{"mode": {}}
	for _, f := range fieldNames {
		facets[f] = map[string]int{}
	}
next:
	for _, d := range live {
		if hidden(d) {
			continue
		}
		for field, v := range q.Fields {
			if d.Fields[slices.Index(fieldNames, field)] != v {
				continue next
			}
		}
		if q.Tag != "" && !slices.Contains(d.Tags, q.Tag) {
			continue
		}
		if q.Unit != "" && (d.Unit != q.Unit || d.Amount < q.Min || q.Max > 0 && d.Amount > q.Max) {
			continue
		}
		score := 0.0
		for _, t := range q.Terms {
			tf := float64(min(d.Terms[t], 255))
			if tf == 0 {
				continue next
			}
			idf := math.Log(1 + (float64(len(live))-float64(df[t])+0.5)/(float64(df[t])+0.5))
			score += idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(max(d.Length, 1))/avg))
		}
		hits = append(hits, hit{d, score})
		for f, name := range fieldNames {
			facets[name][d.Fields[f]]++
		}
		seen := map[string]bool{}
		for _, t := range d.Tags {
			if !seen[t] {
				seen[t] = true
				facets["mode"][t]++
			}
		}
	}
	newest := q.Newest || len(q.Terms) == 0
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if !newest && a.score != b.score {
			return a.score > b.score
		}
		if a.d.Order != b.d.Order {
			return a.d.Order > b.d.Order
		}
		return a.d.Key > b.d.Key
	})
	res := Result{Total: len(hits), Hits: []Hit{}, Facets: facets}
	for i := q.Offset; i < len(hits) && i < q.Offset+q.Limit; i++ {
		h := Hit{Key: hits[i].d.Key}
		if !newest {
			h.Score = hits[i].score
		}
		res.Hits = append(res.Hits, h)
	}
	return res
}

var vocabulary = []string{"数据", "数", "据", "信用", "信", "用", "data", "score", "oil", "ship", "trade", "climat", "health", "port", "energi", "rare"}

func randomDoc(r *rand.Rand, key, order string) Doc {
	d := Doc{Key: key, Order: order, Terms: map[string]int64{}, Amount: -1}
	n := 1 + r.IntN(8)
	for range n {
		// Skewed: early words are common.
		w := vocabulary[int(math.Floor(float64(len(vocabulary))*math.Pow(r.Float64(), 2.5)))]
		d.Terms[w] += int64(1 + 2*r.IntN(2))
	}
	for _, tf := range d.Terms {
		d.Length += tf
	}
	d.Length += int64(r.IntN(20))
	d.Fields = []string{[]string{"dataset", "api", "report"}[r.IntN(3)], []string{"energy", "finance", "shipping", "health"}[r.IntN(4)],
		fmt.Sprintf("sup%d", r.IntN(6))}
	for _, m := range []string{"file", "api", "sandbox"} {
		if r.IntN(2) == 0 {
			d.Tags = append(d.Tags, m)
		}
	}
	if r.IntN(5) > 0 {
		d.Amount, d.Unit = int64(r.IntN(1000)), []string{"CNY", "USD"}[r.IntN(2)]
	}
	return d
}

func randomRequest(r *rand.Rand) Request {
	q := Request{Limit: 1 + r.IntN(15), Facets: true}
	if r.IntN(4) == 0 {
		q.Offset = r.IntN(30)
	}
	for range r.IntN(4) {
		t := vocabulary[int(math.Floor(float64(len(vocabulary))*math.Pow(r.Float64(), 2)))]
		if !slices.Contains(q.Terms, t) {
			q.Terms = append(q.Terms, t)
		}
	}
	if r.IntN(3) == 0 {
		q.Fields = map[string]string{"type": []string{"dataset", "api", "report", "model"}[r.IntN(4)]}
	}
	if r.IntN(4) == 0 {
		if q.Fields == nil {
			q.Fields = map[string]string{}
		}
		q.Fields["category"] = []string{"energy", "finance"}[r.IntN(2)]
	}
	if r.IntN(4) == 0 {
		q.Tag = []string{"file", "api", "sandbox", "stream"}[r.IntN(4)]
	}
	if r.IntN(4) == 0 {
		q.Unit, q.Min = "CNY", int64(r.IntN(500))
		if r.IntN(2) == 0 {
			q.Max = q.Min + int64(r.IntN(500))
		}
	}
	if r.IntN(3) == 0 {
		q.Hide = map[string][]string{"supplier": {fmt.Sprintf("sup%d", r.IntN(6)), fmt.Sprintf("sup%d", r.IntN(6))}}
	}
	q.Newest = r.IntN(5) == 0
	return q
}

// TestIndexAgreesWithNaive checks the index against the obvious answer over random
// catalogs, queries, replacements, removals, out-of-order arrivals and compaction.
func TestIndexAgreesWithNaive(t *testing.T) {
	fields := []string{"type", "category", "supplier"}
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 7))
		x := NewIndex("mode", fields...)
		nv := &naive{docs: map[string]Doc{}}
		ndocs := 50 + r.IntN(600)
		if seed%2 == 1 { // a bulk load first, as at a server's start (postings built per shard)
			var batch []Doc
			for i := range 300 + r.IntN(300) {
				d := randomDoc(r, fmt.Sprintf("p%04d", r.IntN(ndocs)), fmt.Sprintf("s%05d", i))
				nv.docs[d.Key] = d
				batch = append(batch, d)
			}
			x.Apply(batch, nil)
		}
		for i := range ndocs {
			key := fmt.Sprintf("p%04d", r.IntN(ndocs))
			order := fmt.Sprintf("t%05d", i)
			if seed%3 == 0 && r.IntN(10) == 0 {
				order = fmt.Sprintf("t%05d", r.IntN(ndocs)) // a clock that disagrees
			}
			switch r.IntN(10) {
			case 0:
				x.Remove(key)
				delete(nv.docs, key)
			default:
				d := randomDoc(r, key, order)
				nv.docs[key] = d
				if r.IntN(2) == 0 { // as the catalog loads stored rows
					d.Encoded, d.Terms = EncodeTerms(d.Terms), nil
				}
				x.Put(d)
			}
			if i%97 == 0 && r.IntN(2) == 0 {
				x.Compact()
			}
		}
		if x.Len() != len(nv.docs) {
			t.Fatalf("seed %d: %d documents, want %d", seed, x.Len(), len(nv.docs))
		}
		for qi := range 200 {
			q := randomRequest(r)
			exhaustiveMax = []int{0, 30_000}[qi%2] // both ways of ranking
			got, want := x.Search(q), nv.search(q, fields)
			if q.Newest || len(q.Terms) == 0 {
				for i := range got.Hits {
					got.Hits[i].Score = 0
				}
			}
			for i := range got.Hits {
				if i < len(want.Hits) && math.Abs(got.Hits[i].Score-want.Hits[i].Score) < 1e-9 {
					got.Hits[i].Score = want.Hits[i].Score
				}
			}
			if got.Total != want.Total || !reflect.DeepEqual(got.Hits, want.Hits) || !reflect.DeepEqual(got.Facets, want.Facets) {
				t.Fatalf("seed %d query %d %+v:\n got  %d %v %v\n want %d %v %v", seed, qi, q, got.Total, got.Hits, got.Facets, want.Total, want.Hits, want.Facets)
			}
		}
	}
}

func TestIndexAny(t *testing.T) {
	x := NewIndex("mode", "supplier")
	x.Put(Doc{Key: "a", Order: "1", Terms: map[string]int64{"oil": 1}, Fields: []string{"s1"}})
	x.Put(Doc{Key: "b", Order: "2", Terms: map[string]int64{"ship": 1}, Fields: []string{"s2"}})
	x.Put(Doc{Key: "c", Order: "3", Terms: map[string]int64{"data": 1}, Fields: []string{"s1"}})
	res := x.Search(Request{Terms: []string{"oil", "ship", "gold"}, Any: true, Hide: map[string][]string{"supplier": {"s2"}}})
	if res.Total != 1 || res.Hits[0].Key != "a" {
		t.Fatalf("any: %+v", res)
	}
}

func TestTermsEncoding(t *testing.T) {
	in := map[string]int64{"数据": 4, "data": 1, "score": 12}
	s := EncodeTerms(in)
	if out := DecodeTerms(s); !reflect.DeepEqual(out, in) {
		t.Fatalf("decoded %v", out)
	}
	if out := DecodeTerms("a x b 2 c"); !reflect.DeepEqual(out, map[string]int64{"b": 2}) {
		t.Fatalf("damaged: %v", out)
	}
}
