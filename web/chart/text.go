package chart

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// The server has no font metrics: it does not know which font the browser
// picks. Text is measured by estimate instead, generously, so that labels
// thinned or wrapped by the estimate do not collide in any common sans-serif
// face: a wide character (Chinese, Japanese, Korean, full-width forms) takes
// one em, anything else at most 0.62 em (digits and most Latin letters are
// 0.5–0.6 em in system-ui faces).
const (
	wideEm   = 1.0
	narrowEm = 0.62
)

// textWidth estimates the width of s set at size.
func textWidth(s string, size float64) float64 {
	em := 0.0
	for _, r := range s {
		em += runeEm(r)
	}
	return em * size
}

func runeEm(r rune) float64 {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return wideEm
	}
	return narrowEm
}

// wrap breaks s into at most maxLines lines of at most room wide at size:
// between words where there are spaces, anywhere between wide characters
// (Chinese has no spaces), and inside a word only when the word alone is too
// wide. What does not fit in maxLines ends the last line with "…"; the full
// text stays in the tooltip and the data table.
func wrap(s string, room, size float64, maxLines int) []string {
	var lines []string
	line := ""
	fits := func(t string) bool { return textWidth(t, size) <= room }
	push := func() {
		lines = append(lines, line)
		line = ""
	}
	for _, tok := range tokens(s) {
		if line == "" {
			tok = strings.TrimLeft(tok, " ") // no line starts with a space
			if tok == "" {
				continue
			}
		}
		if fits(line + tok) {
			line += tok
			continue
		}
		if line != "" {
			push()
			tok = strings.TrimLeft(tok, " ")
		}
		for !fits(tok) { // a word wider than a whole line: cut it
			cut := 0
			for i := range tok {
				if i > 0 && !fits(tok[:i]) {
					break
				}
				cut = i
			}
			if cut == 0 {
				_, cut = utf8.DecodeRuneInString(tok)
			}
			line = tok[:cut]
			push()
			tok = tok[cut:]
		}
		line = tok
	}
	if strings.TrimSpace(line) != "" {
		push()
	}
	if len(lines) > maxLines {
		last := strings.TrimRight(lines[maxLines-1], " ") + "…"
		for !fits(last) && utf8.RuneCountInString(last) > 1 {
			r := []rune(last)
			last = string(r[:len(r)-2]) + "…"
		}
		lines = append(lines[:maxLines-1], last)
	}
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return lines
}

// fit returns s on one line of at most room, cut short with "…" if need be
// (at a character: a title or a label is cut where the room ends, not at the
// last word that fits).
func fit(s string, room, size float64) string {
	s = strings.TrimSpace(s)
	if textWidth(s, size) <= room {
		return s
	}
	budget := room - textWidth("…", size)
	w, end := 0.0, 0
	for i, r := range s {
		if w += runeEm(r) * size; w > budget {
			break
		}
		end = i + utf8.RuneLen(r)
	}
	return strings.TrimRight(s[:end], " ") + "…"
}

// tokens splits s into the pieces a line may break between: runs of
// non-space narrow characters with the spaces before them, and single wide
// characters.
func tokens(s string) []string {
	var out []string
	cur := ""
	for _, r := range s {
		switch {
		case runeEm(r) == wideEm:
			if cur != "" {
				out = append(out, cur)
			}
			out = append(out, string(r))
			cur = ""
		case unicode.IsSpace(r):
			if strings.TrimSpace(cur) != "" {
				out = append(out, cur)
				cur = ""
			}
			cur += " "
		default:
			cur += string(r)
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// clean makes s safe to put in XML: invalid UTF-8 and the characters XML 1.0
// does not allow (most controls, U+FFFE, U+FFFF) become U+FFFD, and line
// breaks and tabs become spaces, as a chart's texts are single lines.
func clean(s string) string {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || !xmlChar(r) || r == '\n' || r == '\r' || r == '\t' {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError || !xmlChar(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// xmlChar reports whether XML 1.0 allows r in a document (its Char production).
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// escape returns s cleaned and escaped for XML and HTML text and attribute
// values alike.
func escape(s string) string {
	s = clean(s)
	if !strings.ContainsAny(s, `&<>"'`) {
		return s
	}
	return escaper.Replace(s)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
