package dcat

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

// Properties read (DCAT 3 §6; DCAT-AP 3 §5–6).
const (
	dcatDataset        = nsDCAT + "Dataset"
	dcatDatasetProp    = nsDCAT + "dataset"
	dctTitle           = nsDCT + "title"
	dctDescription     = nsDCT + "description"
	dctIdentifier      = nsDCT + "identifier"
	dcatKeyword        = nsDCAT + "keyword"
	dcatTheme          = nsDCAT + "theme"
	dctPublisher       = nsDCT + "publisher"
	dcatContactPoint   = nsDCAT + "contactPoint"
	dcatLandingPage    = nsDCAT + "landingPage"
	dctLicense         = nsDCT + "license"
	dctAccrual         = nsDCT + "accrualPeriodicity"
	dctIssued          = nsDCT + "issued"
	dctModified        = nsDCT + "modified"
	dctCitation        = nsDCT + "bibliographicCitation"
	dcatDistribution   = nsDCAT + "distribution"
	dcatDownloadURL    = nsDCAT + "downloadURL"
	dcatAccessURL      = nsDCAT + "accessURL"
	dctFormat          = nsDCT + "format"
	dcatMediaType      = nsDCAT + "mediaType"
	dcatByteSize       = nsDCAT + "byteSize"
	foafName           = nsFOAF + "name"
	foafHomepage       = nsFOAF + "homepage"
	skosPrefLabel      = nsSKOS + "prefLabel"
	rdfsLabel          = nsRDFS + "label"
	vcardFN            = nsVCARD + "fn"
	vcardHasEmail      = nsVCARD + "hasEmail"
	vcardHasURL        = nsVCARD + "hasURL"
	schemaName         = nsSchema + "name"
	hydraNext          = nsHydra + "next"
	hydraNextPage      = nsHydra + "nextPage"
	ianaMediaTypes     = "https://www.iana.org/assignments/media-types/"
	ianaMediaTypesHTTP = "http://www.iana.org/assignments/media-types/"
)

// mapped are the dataset properties that have a place in harvest.Record; the others
// go to Record.Extra.
var mapped = map[string]bool{
	"@id": true, "@type": true, dctTitle: true, dctDescription: true, dcatKeyword: true, dcatTheme: true,
	dctPublisher: true, dcatContactPoint: true, dcatLandingPage: true, dctLicense: true, dctAccrual: true,
	dctIssued: true, dctModified: true, dctCitation: true, dcatDistribution: true,
}

type node = map[string]any

// graph indexes an expanded JSON-LD document: every node object with an @id (its
// descriptions merged, wherever in the tree they stand), the datasets in document
// order, and the hydra paging link.
type graph struct {
	byID     map[string]node
	datasets []candidate
	isDS     map[string]bool
	next     string
	// catalogSeen says a dcat:Catalog was found.
	catalogSeen bool
}

// candidate is a dataset: by @id, or the node itself when it has none.
type candidate struct {
	id   string
	anon node
}

func newGraph(expanded []any) *graph {
	g := &graph{byID: map[string]node{}, isDS: map[string]bool{}}
	g.walk(expanded, false)
	return g
}

// walk visits v; asDataset says v is the object of dcat:dataset, whose range is
// dcat:Dataset even when the node does not say so.
func (g *graph) walk(v any, asDataset bool) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			g.walk(e, asDataset)
		}
	case node:
		if _, ok := x["@value"]; ok {
			return
		}
		if l, ok := x["@list"]; ok {
			g.walk(l, asDataset)
			return
		}
		id, hasID := x["@id"].(string)
		if hasID {
			if m, ok := g.byID[id]; ok {
				merge(m, x)
			} else if len(x) > 1 || asDataset {
				g.byID[id] = clone(x)
			}
		}
		if hasType(x, nsDCAT+"Catalog") {
			g.catalogSeen = true
		}
		if asDataset || hasType(x, dcatDataset) {
			switch {
			case !hasID:
				g.datasets = append(g.datasets, candidate{anon: x})
			case !g.isDS[id]:
				g.isDS[id] = true
				g.datasets = append(g.datasets, candidate{id: id})
			}
		}
		if g.next == "" {
			for _, p := range []string{hydraNext, hydraNextPage} {
				if s := first(x[p]); s != "" {
					g.next = s
					break
				}
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable order over properties
		for _, k := range keys {
			if k == "@graph" || !strings.HasPrefix(k, "@") {
				g.walk(x[k], k == dcatDatasetProp)
			}
		}
	}
}

func clone(n node) node {
	c := make(node, len(n))
	for k, v := range n {
		if vs, ok := v.([]any); ok {
			v = slices.Clone(vs)
		}
		c[k] = v
	}
	return c
}

// merge adds src's values to dst's, which describe the same node.
func merge(dst, src node) {
	for k, v := range src {
		if k == "@id" {
			continue
		}
		vs, ok := v.([]any)
		if !ok {
			if _, have := dst[k]; !have {
				dst[k] = v
			}
			continue
		}
		have, _ := dst[k].([]any)
		dst[k] = append(have, vs...)
	}
}

func hasType(n node, t string) bool {
	ts, _ := n["@type"].([]any)
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// resolve returns the description of a node reference, or the value itself.
func (g *graph) resolve(v any) any {
	if m, ok := v.(node); ok && len(m) == 1 {
		if id, ok := m["@id"].(string); ok {
			if d, ok := g.byID[id]; ok {
				return d
			}
		}
	}
	return v
}

// values returns n's values of property p, references resolved.
func (g *graph) values(n node, p string) []any {
	vs, _ := n[p].([]any)
	out := make([]any, 0, len(vs))
	for _, v := range vs {
		if m, ok := v.(node); ok {
			if l, ok := m["@list"].([]any); ok {
				for _, e := range l {
					out = append(out, g.resolve(e))
				}
				continue
			}
		}
		out = append(out, g.resolve(v))
	}
	return out
}

// literal is a value object's text and language.
func literal(v any) (text, lang string, ok bool) {
	m, isMap := v.(node)
	if !isMap {
		return "", "", false
	}
	val, has := m["@value"]
	if !has {
		return "", "", false
	}
	lang, _ = m["@language"].(string)
	switch x := val.(type) {
	case string:
		return strings.TrimSpace(x), lang, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), lang, true
	case bool:
		return strconv.FormatBool(x), lang, true
	}
	return fmt.Sprint(val), lang, true
}

// idOf returns a node's IRI, "" for a blank node or a literal.
func idOf(v any) string {
	m, ok := v.(node)
	if !ok {
		return ""
	}
	id, _ := m["@id"].(string)
	if strings.HasPrefix(id, "_:") {
		return ""
	}
	return id
}

// first returns the text of the first literal or IRI in vs.
func first(v any) string {
	vs, _ := v.([]any)
	for _, x := range vs {
		if s, _, ok := literal(x); ok && s != "" {
			return s
		}
		if id := idOf(x); id != "" {
			return id
		}
	}
	return ""
}

// text returns the text of the first literal or IRI among n's values of p.
func (g *graph) text(n node, p string) string { return first(g.values(n, p)) }

// label returns a human name of v: its foaf:name, skos:prefLabel, vcard:fn,
// rdfs:label, schema:name or dct:title (English or untagged first), else its IRI,
// else its own text.
func (g *graph) label(v any) string {
	if s, _, ok := literal(v); ok {
		return s
	}
	m, ok := v.(node)
	if !ok {
		return ""
	}
	for _, p := range []string{foafName, skosPrefLabel, vcardFN, rdfsLabel, schemaName, dctTitle} {
		if s := preferred(g.values(m, p)); s != "" {
			return s
		}
	}
	return idOf(m)
}

// preferred picks one text among language-tagged literals: English, untagged, Chinese,
// then any.
func preferred(vs []any) string {
	best, rank := "", 99
	for _, v := range vs {
		s, lang, ok := literal(v)
		if !ok || s == "" {
			continue
		}
		r := 3
		switch l := strings.ToLower(lang); {
		case l == "en" || strings.HasPrefix(l, "en-"):
			r = 0
		case l == "":
			r = 1
		case l == "zh" || strings.HasPrefix(l, "zh-"):
			r = 2
		}
		if r < rank {
			best, rank = s, r
		}
	}
	return best
}

// bilingual reads language-tagged literals (RDF 1.1 §3.3; BCP 47 tags, so "zh-CN",
// "zh-Hans" and "en-GB" count): zh to Zh, en to En; an untagged text goes where its
// script says (Chinese when it has Han characters); when neither is found, the first
// text in another language stands in the non-Chinese slot, so that a dataset
// described only in, say, German is still read.
func bilingual(vs []any) dataport.Bilingual {
	var b dataport.Bilingual
	var untagged, other []string
	for _, v := range vs {
		s, lang, ok := literal(v)
		if !ok || s == "" {
			continue
		}
		switch l := strings.ToLower(lang); {
		case l == "zh" || strings.HasPrefix(l, "zh-"):
			if b.Zh == "" {
				b.Zh = s
			}
		case l == "en" || strings.HasPrefix(l, "en-"):
			if b.En == "" {
				b.En = s
			}
		case l == "":
			untagged = append(untagged, s)
		default:
			other = append(other, s)
		}
	}
	for _, s := range untagged {
		if isChinese(s) {
			if b.Zh == "" {
				b.Zh = s
			}
		} else if b.En == "" {
			b.En = s
		}
	}
	if b.Zh == "" && b.En == "" && len(other) > 0 {
		if isChinese(other[0]) {
			b.Zh = other[0]
		} else {
			b.En = other[0]
		}
	}
	return b
}

// isChinese reports whether s has Han characters and no kana or Hangul.
func isChinese(s string) bool {
	han := false
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Hiragana, r), unicode.Is(unicode.Katakana, r), unicode.Is(unicode.Hangul, r):
			return false
		case unicode.Is(unicode.Han, r):
			han = true
		}
	}
	return han
}

// fieldError is a dataset property that is present but unreadable.
type fieldError struct{ field, reason string }

// record maps dataset n (the i-th of the page) to a Record.
func (g *graph) record(n node, ref string) (harvest.Record, *fieldError) {
	r := harvest.Record{Ref: ref}
	r.Title = bilingual(g.values(n, dctTitle))
	r.Description = bilingual(g.values(n, dctDescription))
	for _, v := range g.values(n, dcatKeyword) {
		if s, _, ok := literal(v); ok && s != "" && !slices.Contains(r.Keywords, s) {
			r.Keywords = append(r.Keywords, s)
		}
	}
	for _, v := range g.values(n, dcatTheme) {
		s := idOf(v)
		if s == "" {
			s = g.label(v)
		}
		if s != "" && !slices.Contains(r.Categories, s) {
			r.Categories = append(r.Categories, s)
		}
	}
	for _, v := range g.values(n, dctPublisher) {
		if r.Publisher = g.label(v); r.Publisher != "" {
			break
		}
	}
	for _, v := range g.values(n, dcatContactPoint) {
		if r.Contact = g.contact(v); r.Contact != "" {
			break
		}
	}
	r.Homepage = cmp(g.text(n, dcatLandingPage), g.text(n, foafHomepage))
	r.License = g.license(n)
	r.UpdateFrequency = cmp(idOf(firstOf(g.values(n, dctAccrual))), g.label(firstOf(g.values(n, dctAccrual))))
	r.Citation = preferred(g.values(n, dctCitation))
	var err error
	if r.Issued, err = parseTime(g.text(n, dctIssued)); err != nil {
		return r, &fieldError{"dct:issued", err.Error()}
	}
	if r.Modified, err = parseTime(g.text(n, dctModified)); err != nil {
		return r, &fieldError{"dct:modified", err.Error()}
	}
	for i, v := range g.values(n, dcatDistribution) {
		d, ok := v.(node)
		if !ok {
			continue
		}
		dist := harvest.Distribution{
			Title:     preferred(g.values(d, dctTitle)),
			URL:       cmp(g.text(d, dcatDownloadURL), g.text(d, dcatAccessURL)),
			MediaType: mediaType(g.values(d, dcatMediaType), g),
		}
		if f := firstOf(g.values(d, dctFormat)); f != nil {
			dist.Format = cmp(idOf(f), g.label(f))
		}
		if r.License == "" {
			r.License = g.license(d)
		}
		if s := g.text(d, dcatByteSize); s != "" {
			if dist.Size, err = parseSize(s); err != nil {
				return r, &fieldError{fmt.Sprintf("dcat:distribution[%d].dcat:byteSize", i), err.Error()}
			}
		}
		if dist == (harvest.Distribution{}) {
			continue // a bare reference to a distribution described elsewhere
		}
		r.Distributions = append(r.Distributions, dist)
	}
	extra := map[string]any{}
	for k, v := range n {
		if mapped[k] || strings.HasPrefix(k, "@") {
			continue
		}
		extra[compact(k)] = g.simplify(v, 0)
	}
	if len(extra) > 0 {
		r.Extra = extra
	}
	return r, nil
}

func firstOf(vs []any) any {
	if len(vs) == 0 {
		return nil
	}
	return vs[0]
}

// contact reads a dcat:contactPoint (a vcard:Kind): its e-mail (without "mailto:"),
// else its URL, else its name.
func (g *graph) contact(v any) string {
	if s, _, ok := literal(v); ok {
		return strings.TrimPrefix(s, "mailto:")
	}
	m, ok := v.(node)
	if !ok {
		return ""
	}
	if s := g.text(m, vcardHasEmail); s != "" {
		return strings.TrimPrefix(s, "mailto:")
	}
	if s := g.text(m, vcardHasURL); s != "" {
		return s
	}
	return cmp(preferred(g.values(m, vcardFN)), idOf(m))
}

// license reads dct:license: an IRI, a literal, or a licence document's label.
func (g *graph) license(n node) string {
	for _, v := range g.values(n, dctLicense) {
		if s := cmp(idOf(v), g.label(v)); s != "" {
			return s
		}
	}
	return ""
}

// mediaType reads dcat:mediaType: an IANA media type IRI is shortened to the type
// itself ("text/csv"), as DCAT 3 §6.8.14 says the value is drawn from that register.
func mediaType(vs []any, g *graph) string {
	v := firstOf(vs)
	if v == nil {
		return ""
	}
	s := cmp(idOf(v), g.label(v))
	for _, p := range []string{ianaMediaTypes, ianaMediaTypesHTTP} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

var compactPrefixes = func() [][2]string {
	var out [][2]string
	for p, ns := range prefixes {
		if p != "dcterms" {
			out = append(out, [2]string{p, ns.(string)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i][1]) > len(out[j][1]) })
	return out
}()

// compact writes an IRI with a common prefix when it has one ("dct:spatial").
func compact(iri string) string {
	for _, p := range compactPrefixes {
		if rest, ok := strings.CutPrefix(iri, p[1]); ok && rest != "" {
			return p[0] + ":" + rest
		}
	}
	return iri
}

// simplify turns expanded values into plain JSON for Record.Extra: a literal to its
// text, a reference to its IRI, a nested node to an object of its properties; one
// value alone, several as a list.
func (g *graph) simplify(v any, depth int) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, g.simplify(e, depth))
		}
		if len(out) == 1 {
			return out[0]
		}
		return out
	case node:
		if s, _, ok := literal(x); ok {
			return s
		}
		if l, ok := x["@list"]; ok {
			return g.simplify(l, depth)
		}
		d := x
		if id, _ := x["@id"].(string); len(x) == 1 {
			// A reference: to a blank node, its description (it has no other name);
			// to an IRI, the IRI, so that a node pointing back at the dataset
			// (odrl:target) does not drag the dataset in.
			if b, ok := g.byID[id]; ok && strings.HasPrefix(id, "_:") {
				d = b
			} else {
				return id
			}
		}
		if depth >= 4 {
			return idOf(d)
		}
		out := map[string]any{}
		for k, e := range d {
			switch k {
			case "@id":
				if id := idOf(d); id != "" {
					out["@id"] = id
				}
			case "@type":
				var ts []any
				for _, t := range e.([]any) {
					ts = append(ts, compact(fmt.Sprint(t)))
				}
				out["@type"] = ts
			default:
				if !strings.HasPrefix(k, "@") {
					out[compact(k)] = g.simplify(e, depth+1)
				}
			}
		}
		return out
	}
	return v
}

func cmp(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseTime reads an xsd:dateTime, xsd:date, xsd:gYearMonth or xsd:gYear (XML Schema
// 1.1 Part 2 §3.3); a value without a zone is taken as UTC.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02Z07:00", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an xsd:dateTime, xsd:date, xsd:gYearMonth or xsd:gYear", s)
}

// parseSize reads dcat:byteSize, an xsd:nonNegativeInteger (older catalogs write an
// xsd:decimal such as "1024.0").
func parseSize(s string) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && f == math.Trunc(f) && f < math.MaxInt64 {
		return int64(f), nil
	}
	return 0, fmt.Errorf("%q is not a whole number of bytes", s)
}
