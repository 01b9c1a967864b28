package search

import (
	"container/heap"
	"hash/maphash"
	"iter"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Index is an in-memory inverted index of the listed catalog: postings of the
// analyzer's terms, keyword fields for filters and facets, one multi-valued tag field,
// and a price. It answers a conjunctive query with the exact number of matches,
// exact facet counts over all of them, and the top k by BM25 or by newness.
//
// Why in memory: the catalog issue asks for p99 ≤ 20 ms at a million products on two
// cores with facet counts. SQL over a postings table (or SQLite FTS5 with ORDER BY
// bm25) scores every match row by row, and a common term such as 数据 matches most
// of the catalog. Here the postings are arrays of document numbers, the matches are
// found by galloping intersection, the facets are counted in one pass over plain
// arrays, and the top k are scored block by block in descending order of each
// block's BM25 upper bound (block-max), stopping as soon as no remaining block can
// enter the top k. The durable copy of the index lives in the database (one row per
// product, see catalog); this structure is rebuilt from it at start and kept current
// by applying the rows that changed.
//
// Documents are numbered in the order they are added. A removed or replaced document
// is marked dead and its postings stay until Compact drops them.
type Index struct {
	mu sync.RWMutex

	fieldNames []string
	tagName    string

	keys   []string // by document number
	order  []string // the newness key; larger is newer
	length []uint32 // weighted number of terms, for BM25 length normalisation
	alive  bitmap
	// rows holds each document's facet values side by side, so that counting the
	// facets of a match reads one cache line: stride uint32s per document, the value
	// ordinal of each keyword field, then the tag bits (bit i: the tag with ordinal i).
	rows   []uint32
	stride int
	amount []int64  // price in minor units; -1: none
	unit   []uint32 // ordinal of the price's currency in units

	values []*dict // [field] values, each with its posting list
	tagSet *dict
	units  *dict
	// terms are sharded by a hash of the term, so that postings are built by one
	// goroutine per shard when many documents arrive at once (the index's start).
	terms [termShards]map[string]*list
	byKey map[string]uint32

	live     int
	dead     int
	totalLen int64 // of live documents
	sorted   bool  // document numbers ascend with order
}

// Doc is one product as the index sees it.
type Doc struct {
	Key   string
	Order string           // newness: larger is newer (listed time, then key)
	Terms map[string]int64 // weighted term frequencies
	// Encoded holds the term frequencies as EncodeTerms writes them, instead of
	// Terms: how the catalog loads its stored rows without a map per product.
	Encoded string
	Length  int64    // weighted number of terms
	Fields  []string // one value per keyword field, in the Index's field order
	Tags    []string // values of the multi-valued tag field
	Amount  int64    // the lowest price in minor units; -1: none
	Unit    string   // its currency
}

// MaxTags is how many distinct tag values (delivery modes) the index holds.
const MaxTags = 32

// NewIndex returns an empty index with the named keyword fields and tag field.
func NewIndex(tagName string, fieldNames ...string) *Index {
	x := &Index{fieldNames: fieldNames, tagName: tagName, tagSet: newDict(), units: newDict(),
		byKey: map[string]uint32{}, sorted: true}
	for i := range x.terms {
		x.terms[i] = map[string]*list{}
	}
	x.stride = len(fieldNames) + 1
	for range fieldNames {
		x.values = append(x.values, newDict())
	}
	return x
}

const blockSize = 16

// list is a posting list: ascending document numbers, with term frequencies for a
// term (capped at 255) and, per block of blockSize postings, the largest frequency
// and the shortest document: enough to bound BM25 in the block.
type list struct {
	docs        []uint32
	tfs         []uint8
	blockMaxTF  []uint8
	blockMinLen []uint32
	maxTF       uint8
	minLen      uint32
	// bits, for a list holding a good share of all documents (see dense): the same
	// documents as a bitmap, so that intersections and facet counts run a word at
	// a time. It may include dead documents; queries mask them.
	bits bitmap
}

func (l *list) add(doc uint32, tf uint8, length uint32, withTF bool) {
	if withTF {
		if len(l.docs)%blockSize == 0 {
			l.blockMaxTF = append(l.blockMaxTF, 0)
			l.blockMinLen = append(l.blockMinLen, math.MaxUint32)
		}
		b := len(l.docs) / blockSize
		l.blockMaxTF[b] = max(l.blockMaxTF[b], tf)
		l.blockMinLen[b] = min(l.blockMinLen[b], length)
		if len(l.docs) == 0 {
			l.minLen = length
		}
		l.maxTF, l.minLen = max(l.maxTF, tf), min(l.minLen, length)
		l.tfs = append(l.tfs, tf)
	}
	l.docs = append(l.docs, doc)
	if l.bits != nil {
		l.bits.set(doc)
	}
}

// dense gives l a bitmap once it holds at least one document in 32 (a bitmap costs
// a bit per document; the list four bytes per posting).
func (x *Index) dense(l *list) {
	if l.bits == nil && len(l.docs) >= max(64, x.live/32) {
		l.bits = make(bitmap, (len(x.keys)+63)/64)
		for _, n := range l.docs {
			l.bits.set(n)
		}
	}
}

// dict numbers the values of a field and keeps each value's documents.
type dict struct {
	names []string
	ord   map[string]uint32
	lists []*list
}

func newDict() *dict { return &dict{ord: map[string]uint32{}} }

func (d *dict) get(v string) uint32 {
	if o, ok := d.ord[v]; ok {
		return o
	}
	o := uint32(len(d.names))
	d.names = append(d.names, v)
	d.ord[v] = o
	d.lists = append(d.lists, &list{})
	return o
}

// bitmap is a set of document numbers.
type bitmap []uint64

func (b bitmap) has(i uint32) bool { return int(i>>6) < len(b) && b[i>>6]&(1<<(i&63)) != 0 }
func (b *bitmap) set(i uint32) {
	for int(i>>6) >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[i>>6] |= 1 << (i & 63)
}
func (b bitmap) clear(i uint32) {
	if int(i>>6) < len(b) {
		b[i>>6] &^= 1 << (i & 63)
	}
}

// Put adds doc, replacing the document with the same key.
func (x *Index) Put(d Doc) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(d.Key)
	x.add(d)
}

// Remove drops the document with key, if there is one.
func (x *Index) Remove(key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(key)
}

// Len is the number of live documents.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

func (x *Index) remove(key string) {
	n, ok := x.byKey[key]
	if !ok {
		return
	}
	delete(x.byKey, key)
	x.alive.clear(n)
	x.live--
	x.dead++
	x.totalLen -= int64(x.length[n])
}

func (x *Index) row(n uint32) []uint32 {
	i := int(n) * x.stride
	return x.rows[i : i+x.stride : i+x.stride]
}

// add adds d with its postings.
func (x *Index) add(d Doc) {
	x.addDoc(&d, -1)
}

// addDoc adds d's per-document data and, unless shard is -2, its postings.
func (x *Index) addDoc(d *Doc, shard int) uint32 {
	n := uint32(len(x.keys))
	length := uint32(min(max(d.Length, 1), math.MaxUint32))
	if len(x.order) > 0 && d.Order < x.order[len(x.order)-1] {
		x.sorted = false
	}
	x.keys = append(x.keys, d.Key)
	x.order = append(x.order, d.Order)
	x.length = append(x.length, length)
	x.alive.set(n)
	x.byKey[d.Key] = n
	x.live++
	x.totalLen += int64(length)
	for f := range x.fieldNames {
		v := ""
		if f < len(d.Fields) {
			v = d.Fields[f]
		}
		o := x.values[f].get(v)
		x.rows = append(x.rows, o)
		x.values[f].lists[o].add(n, 0, 0, false)
		x.dense(x.values[f].lists[o])
	}
	var mask uint32
	for _, t := range d.Tags {
		if _, known := x.tagSet.ord[t]; t == "" || !known && len(x.tagSet.names) >= MaxTags {
			continue
		}
		o := x.tagSet.get(t)
		if mask&(1<<o) == 0 {
			mask |= 1 << o
			x.tagSet.lists[o].add(n, 0, 0, false)
			x.dense(x.tagSet.lists[o])
		}
	}
	x.rows = append(x.rows, mask)
	x.amount = append(x.amount, d.Amount)
	x.unit = append(x.unit, x.units.get(d.Unit))
	if shard != -2 {
		x.post(d, n, -1)
	}
	return n
}

const termShards = 4

var shardSeed = maphash.MakeSeed()

func shardOf(t string) int { return int(maphash.String(shardSeed, t) % termShards) }

// term returns the posting list of t, or nil.
func (x *Index) term(t string) *list { return x.terms[shardOf(t)][t] }

// post adds document n's postings: of every term, or with shard ≥ 0 only of the
// terms in that shard (each shard is then touched by one goroutine only).
func (x *Index) post(d *Doc, n uint32, shard int) {
	length := x.length[n]
	post := func(t string, tf int64) {
		if tf <= 0 {
			return
		}
		sh := shardOf(t)
		if shard >= 0 && sh != shard {
			return
		}
		l := x.terms[sh][t]
		if l == nil {
			l = &list{}
			x.terms[sh][strings.Clone(t)] = l // t may point into a whole stored row
		}
		if k := len(l.docs); k > 0 && l.docs[k-1] == n { // a term listed twice
			return
		}
		l.add(n, uint8(min(tf, 255)), length, true)
		x.dense(l)
	}
	for t, tf := range d.Terms {
		post(t, tf)
	}
	eachTerm(d.Encoded, post)
}

// Compact drops dead documents and renumbers the rest in newness order, so that
// postings and per-document arrays hold live documents only. It runs when dead
// documents pass a quarter of all, and may be called at any time.
func (x *Index) Compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.compact()
}

func (x *Index) compact() {
	var keep []uint32
	for n := range x.keys {
		if x.alive.has(uint32(n)) {
			keep = append(keep, uint32(n))
		}
	}
	if !x.sorted {
		sort.SliceStable(keep, func(i, j int) bool {
			a, b := keep[i], keep[j]
			if x.order[a] != x.order[b] {
				return x.order[a] < x.order[b]
			}
			return x.keys[a] < x.keys[b]
		})
	}
	renum := make([]uint32, len(x.keys))
	for i := range renum {
		renum[i] = math.MaxUint32
	}
	for i, n := range keep {
		renum[n] = uint32(i)
	}
	y := NewIndex(x.tagName, x.fieldNames...)
	y.keys = make([]string, len(keep))
	y.order = make([]string, len(keep))
	y.length = make([]uint32, len(keep))
	y.rows = make([]uint32, 0, len(keep)*x.stride)
	y.amount = make([]int64, len(keep))
	y.unit = make([]uint32, len(keep))
	y.alive = make(bitmap, (len(keep)+63)/64)
	for i, n := range keep {
		y.keys[i], y.order[i], y.length[i], y.amount[i], y.unit[i] = x.keys[n], x.order[n], x.length[n], x.amount[n], x.unit[n]
		y.rows = append(y.rows, x.row(n)...)
		y.alive.set(uint32(i))
		y.byKey[x.keys[n]] = uint32(i)
	}
	relist := func(l *list, withTF bool) *list {
		type posting struct {
			doc uint32
			tf  uint8
		}
		ps := make([]posting, 0, len(l.docs))
		for i, n := range l.docs {
			if r := renum[n]; r != math.MaxUint32 {
				p := posting{doc: r}
				if withTF {
					p.tf = l.tfs[i]
				}
				ps = append(ps, p)
			}
		}
		if !x.sorted {
			slices.SortFunc(ps, func(a, b posting) int { return int(a.doc) - int(b.doc) })
		}
		out := &list{docs: make([]uint32, 0, len(ps))}
		if withTF {
			out.tfs = make([]uint8, 0, len(ps))
		}
		for _, p := range ps {
			out.add(p.doc, p.tf, y.length[p.doc], withTF)
		}
		return out
	}
	redict := func(d *dict) *dict {
		out := &dict{names: d.names, ord: d.ord}
		for _, l := range d.lists {
			out.lists = append(out.lists, relist(l, false))
		}
		return out
	}
	for f := range y.values {
		y.values[f] = redict(x.values[f])
	}
	y.tagSet, y.units = redict(x.tagSet), redict(x.units)
	for sh := range x.terms {
		for t, l := range x.terms[sh] {
			if nl := relist(l, true); len(nl.docs) > 0 {
				y.terms[sh][t] = nl
			}
		}
	}
	y.live, y.totalLen = len(keep), x.totalLen
	for _, d := range append(slices.Clone(y.values), y.tagSet) {
		for _, l := range d.lists {
			y.dense(l)
		}
	}
	for _, shard := range y.terms {
		for _, l := range shard {
			y.dense(l)
		}
	}
	x.keys, x.order, x.length, x.alive, x.rows, x.amount, x.unit = y.keys, y.order, y.length, y.alive, y.rows, y.amount, y.unit
	x.values, x.tagSet, x.units, x.terms, x.byKey = y.values, y.tagSet, y.units, y.terms, y.byKey
	x.live, x.dead, x.totalLen, x.sorted = y.live, 0, y.totalLen, true
}

// maybeCompact compacts when dead documents are more than a quarter of all.
func (x *Index) maybeCompact() {
	if x.dead > 1024 && x.dead > len(x.keys)/4 {
		x.compact()
	}
}

// Apply runs changes under one lock: puts, then removals by key, then compaction if
// due. It is how the catalog applies a batch of changed rows.
func (x *Index) Apply(puts []Doc, removes []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(puts) < 256 {
		for _, d := range puts {
			x.remove(d.Key)
			x.add(d)
		}
	} else {
		// Many at once: the documents first, then their postings, a goroutine per
		// shard of terms.
		first := uint32(len(x.keys))
		for i := range puts {
			x.remove(puts[i].Key)
			x.addDoc(&puts[i], -2)
		}
		var wg sync.WaitGroup
		for sh := range termShards {
			wg.Go(func() {
				for i := range puts {
					x.post(&puts[i], first+uint32(i), sh)
				}
			})
		}
		wg.Wait()
	}
	for _, k := range removes {
		x.remove(k)
	}
	x.maybeCompact()
}

// Request asks the index.
type Request struct {
	Terms  []string          // from search.Query; all must match (or any, with Any)
	Any    bool              // match documents with any of the terms (no facets, by relevance)
	Fields map[string]string // keyword field → the value it must have
	Tag    string            // a tag the document must have
	Unit   string            // with Min and Max: the price's currency
	Min    int64             // lowest price, minor units
	Max    int64             // highest price; 0: no upper bound
	// Hide leaves out documents whose keyword field has one of the values (the
	// products of suspended participants).
	Hide   map[string][]string
	Newest bool // newest first, rather than by relevance
	Offset int
	Limit  int
	Facets bool // count facets over all matches
}

// Hit is one document found.
type Hit struct {
	Key   string
	Score float64
}

// Result is the answer to a Request.
type Result struct {
	Total  int
	Hits   []Hit
	Facets map[string]map[string]int
}

// BM25 parameters; the title's terms are weighted by the caller.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

// Search answers q.
func (x *Index) Search(q Request) Result {
	x.mu.RLock()
	defer x.mu.RUnlock()
	res := Result{Hits: []Hit{}}
	if q.Facets {
		res.Facets = map[string]map[string]int{x.tagName: {}}
		for _, f := range x.fieldNames {
			res.Facets[f] = map[string]int{}
		}
	}
	// ok: live and not hidden.
	ok := slices.Clone(x.alive)
	for field, vals := range q.Hide {
		f := slices.Index(x.fieldNames, field)
		if f < 0 {
			continue
		}
		for _, v := range vals {
			if o, found := x.values[f].ord[v]; found {
				for _, n := range x.values[f].lists[o].docs {
					ok.clear(n)
				}
			}
		}
	}
	var terms []*list
	for _, t := range q.Terms {
		l := x.term(t)
		if l == nil && !q.Any {
			return res
		}
		if l != nil {
			terms = append(terms, l)
		}
	}
	if q.Any {
		return x.searchAny(q, terms, ok)
	}
	lists := slices.Clone(terms)
	for field, v := range q.Fields {
		f := slices.Index(x.fieldNames, field)
		if f < 0 {
			return res
		}
		o, found := x.values[f].ord[v]
		if !found {
			return res
		}
		lists = append(lists, x.values[f].lists[o])
	}
	if q.Tag != "" {
		o, found := x.tagSet.ord[q.Tag]
		if !found {
			return res
		}
		lists = append(lists, x.tagSet.lists[o])
	}
	var unit uint32
	if q.Unit != "" {
		o, found := x.units.ord[q.Unit]
		if !found {
			return res
		}
		unit = o
	}

	// The matches, as a bitmap m. A short list drives a galloping intersection;
	// lists with bitmaps are intersected a word at a time.
	slices.SortFunc(lists, func(a, b *list) int { return len(a.docs) - len(b.docs) })
	var m bitmap
	switch {
	case len(lists) == 0:
		m = ok
	case lists[0].bits == nil:
		m = make(bitmap, len(ok))
		pos := make([]int, len(lists))
	drive:
		for _, n := range lists[0].docs {
			if !ok.has(n) {
				continue
			}
			for i := 1; i < len(lists); i++ {
				if b := lists[i].bits; b != nil {
					if !b.has(n) {
						continue drive
					}
					continue
				}
				p := gallop(lists[i].docs, pos[i], n)
				pos[i] = p
				if p == len(lists[i].docs) {
					break drive
				}
				if lists[i].docs[p] != n {
					continue drive
				}
			}
			m[n>>6] |= 1 << (n & 63)
		}
	default:
		m = ok
		for _, l := range lists {
			b := l.bits
			if b == nil {
				b = make(bitmap, len(m))
				for _, n := range l.docs {
					b[n>>6] |= 1 << (n & 63)
				}
			}
			for w := range m {
				if w < len(b) {
					m[w] &= b[w]
				} else {
					m[w] = 0
				}
			}
		}
	}
	total := 0
	for w, word := range m {
		if q.Unit != "" { // the price, document by document
			for rest := word; rest != 0; rest &= rest - 1 {
				n := uint32(w*64 + bits.TrailingZeros64(rest))
				if x.unit[n] != unit || x.amount[n] < q.Min || (q.Max > 0 && x.amount[n] > q.Max) {
					word &^= 1 << (n & 63)
				}
			}
			m[w] = word
		}
		total += bits.OnesCount64(word)
	}
	res.Total = total
	// Facets and ranking read m and the index only: over many matches they run side
	// by side, one on each core.
	var facets sync.WaitGroup
	if q.Facets {
		if total > 4096 {
			facets.Go(func() { x.countFacets(m, total, res.Facets) })
		} else {
			x.countFacets(m, total, res.Facets)
		}
	}
	k := q.Offset + q.Limit
	var top []Hit
	if k > q.Offset && total > q.Offset {
		if q.Newest || len(terms) == 0 {
			top = x.newest(m, k)
		} else {
			top = x.relevant(q.Terms, m, total, k)
		}
	}
	facets.Wait()
	if q.Offset < len(top) {
		res.Hits = top[q.Offset:]
	}
	return res
}

// gallop returns the first position at or after from where docs[pos] >= n.
func gallop(docs []uint32, from int, n uint32) int {
	// The next few first: walking matches in order, the one sought is usually near.
	for end := min(from+8, len(docs)); from < end; from++ {
		if docs[from] >= n {
			return from
		}
	}
	if from >= len(docs) || docs[from] >= n {
		return from
	}
	step := 1
	lo, hi := from, from+1
	for hi < len(docs) && docs[hi] < n {
		lo = hi
		step *= 2
		hi = from + step
	}
	hi = min(hi, len(docs))
	// docs[lo] < n; the answer is in (lo, hi].
	return lo + 1 + sort.Search(hi-lo-1, func(i int) bool { return docs[lo+1+i] >= n })
}

// countFacets counts the facet values of the matches m. A few matches are counted
// one by one from their rows; many, value by value: a value with a bitmap by
// counting the bits it shares with m, another by testing its documents in m.
func (x *Index) countFacets(m bitmap, total int, out map[string]map[string]int) {
	nf := len(x.fieldNames)
	if total <= max(1024, x.live/32) {
		counts := make([][]int, nf)
		for f := range counts {
			counts[f] = make([]int, len(x.values[f].names))
		}
		var tagCounts [MaxTags]int
		for w, word := range m {
			for ; word != 0; word &= word - 1 {
				row := x.row(uint32(w*64 + bits.TrailingZeros64(word)))
				for f := range nf {
					counts[f][row[f]]++
				}
				for t := row[nf]; t != 0; t &= t - 1 {
					tagCounts[bits.TrailingZeros32(t)]++
				}
			}
		}
		for f, name := range x.fieldNames {
			for o, c := range counts[f] {
				if c > 0 {
					out[name][x.values[f].names[o]] = c
				}
			}
		}
		for o, c := range tagCounts[:len(x.tagSet.names)] {
			if c > 0 {
				out[x.tagName][x.tagSet.names[o]] = c
			}
		}
		return
	}
	shared := func(l *list) int {
		c := 0
		if l.bits != nil {
			for w, word := range l.bits {
				if w < len(m) {
					c += bits.OnesCount64(word & m[w])
				}
			}
			return c
		}
		for _, n := range l.docs { // branch-free: half the tests succeed
			if w := int(n >> 6); w < len(m) {
				c += int(m[w] >> (n & 63) & 1)
			}
		}
		return c
	}
	for f, name := range x.fieldNames {
		for o, l := range x.values[f].lists {
			if c := shared(l); c > 0 {
				out[name][x.values[f].names[o]] = c
			}
		}
	}
	for o, l := range x.tagSet.lists {
		if c := shared(l); c > 0 {
			out[x.tagName][x.tagSet.names[o]] = c
		}
	}
}

// newer reports whether document a comes before b in newest-first order.
func (x *Index) newer(a, b uint32) bool {
	if x.sorted || x.order[a] == x.order[b] && x.keys[a] == x.keys[b] {
		return a > b
	}
	if x.order[a] != x.order[b] {
		return x.order[a] > x.order[b]
	}
	return x.keys[a] > x.keys[b]
}

// newest returns the k newest of the matches m.
func (x *Index) newest(m bitmap, k int) []Hit {
	if x.sorted { // numbers ascend with newness: the highest k
		out := make([]Hit, 0, k)
		for w := len(m) - 1; w >= 0 && len(out) < k; w-- {
			for word := m[w]; word != 0 && len(out) < k; {
				b := 63 - bits.LeadingZeros64(word)
				word &^= 1 << b
				out = append(out, Hit{Key: x.keys[w*64+b]})
			}
		}
		return out
	}
	h := &topK{k: k, better: func(a, b scored) bool { return x.newer(a.doc, b.doc) }}
	for w, word := range m {
		for ; word != 0; word &= word - 1 {
			h.offer(scored{doc: uint32(w*64 + bits.TrailingZeros64(word))})
		}
	}
	return x.hits(h)
}

type scored struct {
	doc   uint32
	score float64
}

// topK keeps the k best under better; its root is the worst kept.
type topK struct {
	k      int
	items  []scored
	better func(a, b scored) bool
}

func (h *topK) Len() int           { return len(h.items) }
func (h *topK) Less(i, j int) bool { return h.better(h.items[j], h.items[i]) }
func (h *topK) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *topK) Push(v any)         { h.items = append(h.items, v.(scored)) }
func (h *topK) Pop() any {
	v := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return v
}

func (h *topK) offer(s scored) {
	if len(h.items) < h.k {
		heap.Push(h, s)
		return
	}
	if h.better(s, h.items[0]) {
		h.items[0] = s
		heap.Fix(h, 0)
	}
}

func (h *topK) full() bool { return len(h.items) >= h.k }

func (x *Index) hits(h *topK) []Hit {
	sort.Slice(h.items, func(i, j int) bool { return h.better(h.items[i], h.items[j]) })
	out := make([]Hit, len(h.items))
	for i, s := range h.items {
		out[i] = Hit{Key: x.keys[s.doc], Score: s.score}
	}
	return out
}

// exhaustiveMax is the number of matches up to which relevant scores every match;
// above it, it visits blocks by their upper bounds.
var exhaustiveMax = 30_000 // a variable so that tests can exercise both ways

// relevant returns the k best of the matches m by BM25 over the query's terms. A
// few thousand matches are all scored, walking the term lists alongside. More are
// ranked block-max: the shortest term list's blocks are visited in descending order
// of an upper bound on their scores (from each block's largest term frequency and
// shortest document, and the matching blocks of the other terms), and the visit
// stops when the next bound cannot beat the k-th score.
func (x *Index) relevant(terms []string, m bitmap, total, k int) []Hit {
	var lists []*list
	seen := map[string]bool{}
	for _, t := range terms {
		if l := x.term(t); l != nil && !seen[t] {
			seen[t] = true
			lists = append(lists, l)
		}
	}
	avg := float64(x.totalLen) / math.Max(1, float64(x.live))
	N := float64(x.live)
	idf := make([]float64, len(lists))
	for i, l := range lists {
		df := len(l.docs)
		if x.dead > 0 {
			df = 0
			if l.bits != nil {
				for w, word := range l.bits {
					df += bits.OnesCount64(word & x.alive[w])
				}
			} else {
				for _, n := range l.docs {
					if x.alive.has(n) {
						df++
					}
				}
			}
		}
		idf[i] = math.Log(1 + (N-float64(df)+0.5)/(float64(df)+0.5))
	}
	part := func(i int, tf uint8, length uint32) float64 {
		f := float64(tf)
		return idf[i] * f * (bm25K1 + 1) / (f + bm25K1*(1-bm25B+bm25B*float64(length)/avg))
	}
	h := &topK{k: k, better: func(a, b scored) bool {
		if a.score != b.score {
			return a.score > b.score
		}
		return x.newer(a.doc, b.doc)
	}}

	if total <= exhaustiveMax || len(lists) > 1 && total <= 8*exhaustiveMax {
		pos := make([]int, len(lists))
		for w, word := range m {
			for ; word != 0; word &= word - 1 {
				n := uint32(w*64 + bits.TrailingZeros64(word))
				score := 0.0
				for i, l := range lists {
					p := gallop(l.docs, pos[i], n)
					pos[i] = p
					score += part(i, l.tfs[p], x.length[n])
				}
				h.offer(scored{doc: n, score: score})
			}
		}
		return x.hits(h)
	}

	drive := 0
	for i, l := range lists {
		if len(l.docs) < len(lists[drive].docs) {
			drive = i
		}
	}
	d := lists[drive]
	// rangeBound bounds term i's part in documents lo..hi: the largest block bound
	// among its blocks that overlap the range.
	rangeBound := func(i int, lo, hi uint32) float64 {
		l := lists[i]
		first, _ := slices.BinarySearch(l.docs, lo)
		last, _ := slices.BinarySearch(l.docs, hi+1)
		if first >= last {
			return 0
		}
		best := 0.0
		for b := first / blockSize; b <= (last-1)/blockSize; b++ {
			best = max(best, part(i, l.blockMaxTF[b], l.blockMinLen[b]))
		}
		return best
	}
	blocks := make(blockHeap, 0, len(d.blockMaxTF))
	for b := range d.blockMaxTF {
		lo, hi := d.docs[b*blockSize], d.docs[min((b+1)*blockSize, len(d.docs))-1]
		bound := part(drive, d.blockMaxTF[b], d.blockMinLen[b])
		for i := range lists {
			if i != drive {
				bound += rangeBound(i, lo, hi)
			}
		}
		blocks = append(blocks, block{b, bound})
	}
	// A heap, not a sort: usually few blocks are visited before the visit stops.
	heap.Init(&blocks)
	for blocks.Len() > 0 {
		b := heap.Pop(&blocks).(block)
		if h.full() && b.bound < h.items[0].score {
			break // no document of this block or any later one can enter the top k
		}
		end := min((b.i+1)*blockSize, len(d.docs))
		for p := b.i * blockSize; p < end; p++ {
			n := d.docs[p]
			if !m.has(n) {
				continue
			}
			score := 0.0
			for i, l := range lists {
				tf := d.tfs[p]
				if i != drive {
					j, _ := slices.BinarySearch(l.docs, n)
					tf = l.tfs[j]
				}
				score += part(i, tf, x.length[n])
			}
			h.offer(scored{doc: n, score: score})
		}
	}
	return x.hits(h)
}

type block struct {
	i     int
	bound float64
}

// blockHeap pops the block with the greatest bound first.
type blockHeap []block

func (h blockHeap) Len() int { return len(h) }
func (h blockHeap) Less(i, j int) bool {
	if h[i].bound != h[j].bound {
		return h[i].bound > h[j].bound
	}
	return h[i].i < h[j].i
}
func (h blockHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *blockHeap) Push(v any)   { *h = append(*h, v.(block)) }
func (h *blockHeap) Pop() any {
	v := (*h)[len(*h)-1]
	*h = (*h)[:len(*h)-1]
	return v
}

// searchAny returns every visible document with any of the terms, best first.
func (x *Index) searchAny(q Request, lists []*list, ok bitmap) Result {
	seen := make(bitmap, len(ok))
	var docs []uint32
	for _, l := range lists {
		for _, n := range l.docs {
			if ok.has(n) && !seen.has(n) {
				seen.set(n)
				docs = append(docs, n)
			}
		}
	}
	slices.Sort(docs)
	res := Result{Total: len(docs), Hits: []Hit{}}
	limit := q.Limit
	if limit <= 0 {
		limit = len(docs)
	}
	for i := len(docs) - 1; i >= 0 && len(res.Hits) < limit; i-- {
		res.Hits = append(res.Hits, Hit{Key: x.keys[docs[i]]})
	}
	return res
}

// Stats describes the index's size.
type Stats struct {
	Docs, Dead, Terms int
	Postings          int64
	Bytes             int64 // approximate memory held by postings and per-document arrays
}

// Stats reports the index's size.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := Stats{Docs: x.live, Dead: x.dead}
	for t, l := range x.allTerms() {
		s.Terms++
		s.Postings += int64(len(l.docs))
		s.Bytes += int64(cap(l.docs)*4+cap(l.tfs)+cap(l.blockMaxTF)*5) + int64(len(t)) + 64
	}
	n := int64(len(x.keys))
	s.Bytes += n * (4 + 8 + 4 + int64(x.stride)*4 + int64(len(x.fieldNames))*4) // length, amount, unit, rows, field postings
	for i := range x.keys {
		s.Bytes += int64(len(x.keys[i]) + len(x.order[i]) + 32)
	}
	return s
}

// allTerms yields every term and its list.
func (x *Index) allTerms() iter.Seq2[string, *list] {
	return func(yield func(string, *list) bool) {
		for _, shard := range x.terms {
			for t, l := range shard {
				if !yield(t, l) {
					return
				}
			}
		}
	}
}

// EncodeTerms writes term frequencies as "term tf term tf …", the form the catalog
// stores. Terms never contain spaces: the analyzer splits on them.
func EncodeTerms(tf map[string]int64) string {
	var b strings.Builder
	b.Grow(len(tf) * 8)
	for t, n := range tf {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(n, 10))
	}
	return b.String()
}

// DecodeTerms reads what EncodeTerms wrote.
func DecodeTerms(s string) map[string]int64 {
	out := map[string]int64{}
	eachTerm(s, func(t string, n int64) {
		if n > 0 {
			out[t] += n
		}
	})
	return out
}

// eachTerm calls fn with each term of an encoded list and its frequency (-1 when
// the number is damaged).
func eachTerm(s string, fn func(term string, tf int64)) {
	for s != "" {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return
		}
		t := s[:i]
		s = s[i+1:]
		num := s
		if j := strings.IndexByte(s, ' '); j >= 0 {
			num, s = s[:j], s[j+1:]
		} else {
			s = ""
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			n = -1
		}
		fn(t, n)
	}
}
