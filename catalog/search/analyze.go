// Package search turns bilingual catalog text into index terms, and queries into the
// terms they must match. The engine that stores and ranks the terms (SQLite FTS5,
// PostgreSQL tsvector, or an index of dataport's own) sits behind a small interface
// elsewhere; this analyzer is the one place that decides what a "word" is, so that
// every engine matches the same way (ARCHITECTURE: Search).
//
// Chinese, Japanese and Korean text has no spaces between words, and a segmenter
// needs a dictionary that is never complete for a catalog's vocabulary (信用评分,
// 航运指数 …). So CJK runs are indexed as overlapping character bigrams plus single
// characters: a two-character query such as 信用 is one bigram and finds 信用评分; a
// one-character query such as 油 is a unigram; a longer query is the sequence of its
// bigrams, all of which must match. Latin-script text is split into words, folded
// (full-width to half-width, lower case) and stemmed with the Snowball English
// stemmer, so "scoring" finds "score".
package search

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
	"golang.org/x/text/width"
)

// Term is an index term and where it came from in the analysed text (byte offsets),
// for highlighting.
type Term struct {
	Text       string
	Start, End int
}

// MaxQueryRunes bounds a query: longer ones are refused before they reach an engine.
const MaxQueryRunes = 200

// Analyze returns the index terms of text, in order of appearance: for CJK runs every
// character and every pair of neighbouring characters; for other words their stem.
func Analyze(text string) []Term {
	var terms []Term
	for _, tok := range tokens(text) {
		if tok.cjk {
			for i, r := range tok.runes {
				terms = append(terms, Term{Text: cjkTerm(r, 0), Start: tok.offs[i], End: tok.offs[i] + utf8.RuneLen(r)})
				if i+1 < len(tok.runes) {
					terms = append(terms, Term{Text: cjkTerm(r, tok.runes[i+1]), Start: tok.offs[i], End: tok.offs[i+1] + utf8.RuneLen(tok.runes[i+1])})
				}
			}
			continue
		}
		if stem := stemWord(string(tok.text)); stem != "" {
			terms = append(terms, Term{Text: stem, Start: tok.offs[0], End: tok.end})
		}
	}
	return terms
}

// Query returns the terms a document must all contain to match q: a CJK run of one
// character is that character, a longer run its bigrams; a word its stem. Duplicates
// are dropped; the order is the query's.
func Query(q string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, tok := range tokens(q) {
		if tok.cjk {
			if len(tok.runes) == 1 {
				add(string(tok.runes))
			}
			for i := 0; i+1 < len(tok.runes); i++ {
				add(string(tok.runes[i : i+2]))
			}
			continue
		}
		add(stemWord(string(tok.text)))
	}
	return out
}

type token struct {
	cjk   bool
	text  []byte // folded word (non-CJK)
	runes []rune // CJK characters
	offs  []int  // byte offset of each rune (CJK) or of the word's start
	end   int
}

// isCJK reports whether r is written without spaces between words.
func isCJK(r rune) bool {
	if r < 0x2E80 { // below the CJK radicals: Latin, Greek, Cyrillic, symbols
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul)
}

// tokens splits text into CJK runs and words of letters and digits, folding
// full-width forms (ＤＡＴＡ, ２０２６) to their ordinary width.
func tokens(text string) []token {
	var out []token
	var cur *token
	flush := func(end int) {
		if cur != nil {
			cur.end = end
			out = append(out, *cur)
			cur = nil
		}
	}
	for i, r := range text {
		r = fold(r)
		switch {
		case isCJK(r):
			if cur != nil && !cur.cjk {
				flush(i)
			}
			if cur == nil {
				cur = &token{cjk: true}
			}
			cur.runes = append(cur.runes, r)
			cur.offs = append(cur.offs, i)
		case wordRune(r):
			if cur != nil && cur.cjk {
				flush(i)
			}
			if cur == nil {
				cur = &token{offs: []int{i}}
			}
			cur.text = utf8.AppendRune(cur.text, unicode.ToLower(r))
		case r == '\'' || r == '’':
			// Apostrophes stay inside words (China's → china's → china).
			if cur != nil && !cur.cjk {
				cur.text = append(cur.text, '\'')
				continue
			}
			flush(i)
		default:
			flush(i)
		}
	}
	flush(len(text))
	return out
}

// wordRune reports whether r belongs in a word: letters, digits and combining marks.
func wordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// fold maps full-width and half-width forms to their usual width.
func fold(r rune) rune {
	if r < 0xFF00 || r > 0xFFEF {
		return r
	}
	s := width.Fold.String(string(r))
	f, _ := utf8.DecodeRuneInString(s)
	return f
}

// The analyzer's caches: CJK unigrams and bigrams interned (a catalog uses a few
// thousand characters, and building each term's string anew was most of the
// analyzer's allocation), and English stems (the Snowball stemmer is its slowest
// step; a catalog's words repeat). Each stops growing at maxCached entries, so
// hostile text cannot grow them without bound.
var (
	cacheMu   sync.RWMutex
	cjkTerms  = map[uint64]string{}
	stems     = map[string]string{}
	maxCached = 1 << 18
)

func cjkTerm(a, b rune) string {
	key := uint64(a)<<32 | uint64(b)
	cacheMu.RLock()
	s, ok := cjkTerms[key]
	cacheMu.RUnlock()
	if ok {
		return s
	}
	s = string(a)
	if b != 0 {
		s += string(b)
	}
	cacheMu.Lock()
	if len(cjkTerms) < maxCached {
		cjkTerms[key] = s
	}
	cacheMu.Unlock()
	return s
}

// stemWord stems an English word; stop words are kept (a catalog query "data of
// china" must still say "data"), numbers and other scripts pass unchanged.
func stemWord(w string) string {
	cacheMu.RLock()
	s, ok := stems[w]
	cacheMu.RUnlock()
	if ok {
		return s
	}
	s = stemUncached(w)
	cacheMu.Lock()
	if len(stems) < maxCached {
		stems[w] = s
	}
	cacheMu.Unlock()
	return s
}

func stemUncached(w string) string {
	w = strings.Trim(w, "'")
	w = strings.TrimSuffix(w, "'s")
	if w == "" {
		return ""
	}
	for _, r := range w {
		if r > unicode.MaxASCII || !unicode.IsLetter(r) {
			return w
		}
	}
	return english.Stem(w, true)
}
