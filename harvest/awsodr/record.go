package awsodr

import (
	"html"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/dataport/dataport/harvest"
)

// How registry fields become a record (field meanings: the registry's README):
//
//	Name                 Title.En
//	Description          Description.En as written (markdown); Summary.En its first sentence as plain text
//	Documentation        Homepage: its first http(s) URL (the field is often prose with links);
//	                     the text itself in Extra["Documentation"] when it is more than that URL
//	Contact              Contact
//	ManagedBy            Publisher without markdown link syntax; the text in Extra["ManagedBy"] when it had any
//	UpdateFrequency, License, Citation, Deprecated   the same-named fields
//	Tags                 Keywords, in file order
//	ADXCategories        Categories
//	RegistryEntryAdded, RegistryEntryLastModified    Issued, Modified (or, in a git checkout, from history)
//	Resources            Distributions, in file order (see distribution)
//	DeprecatedNotice, DataAtWork, Collabs, and any field a later schema adds: Extra under their own names
//
// Nothing is sorted: the order of tags, resources and links is the registry's and
// the record is the same for the same file.

// buildRecord maps a validated dataset document.
func buildRecord(id, ref string, top *yaml.Node, dates entryDates) harvest.Record {
	rec := harvest.Record{ID: id, Ref: ref}
	extra := map[string]any{}
	var resExtra []any
	hasResExtra := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, n := top.Content[i].Value, deref(top.Content[i+1])
		switch key {
		case "Name":
			rec.Title.En = text(n)
		case "Description":
			rec.Description.En = text(n)
			rec.Summary.En = summarize(rec.Description.En)
		case "Documentation":
			doc := text(n)
			rec.Homepage = firstURL(doc)
			if doc != rec.Homepage {
				extra[key] = doc
			}
		case "Contact":
			rec.Contact = text(n)
		case "ManagedBy":
			raw := text(n)
			rec.Publisher = publisher(raw)
			if raw != rec.Publisher {
				extra[key] = raw
			}
		case "UpdateFrequency":
			rec.UpdateFrequency = text(n)
		case "License":
			rec.License = text(n)
		case "Citation":
			rec.Citation = text(n)
		case "Deprecated":
			rec.Deprecated, _ = yamlBool(n)
		case "Tags":
			rec.Keywords = texts(n)
		case "ADXCategories":
			rec.Categories = texts(n)
		case "RegistryEntryAdded", "RegistryEntryLastModified":
			t, ok := parseDay(n.Value)
			switch {
			case !ok:
				if v := plain(n); v != nil {
					extra[key] = v
				}
			case key == "RegistryEntryAdded":
				rec.Issued = t
			default:
				rec.Modified = t
			}
		case "Resources":
			for _, r := range n.Content {
				d, left := distribution(deref(r))
				rec.Distributions = append(rec.Distributions, d)
				if left == nil {
					left = map[string]any{}
				} else {
					hasResExtra = true
				}
				resExtra = append(resExtra, left)
			}
		default:
			if v := plain(n); v != nil {
				extra[key] = v
			}
		}
	}
	if rec.Issued.IsZero() {
		rec.Issued, _ = parseDay(dates.added)
	}
	if rec.Modified.IsZero() {
		rec.Modified, _ = parseDay(dates.modified)
	}
	if hasResExtra {
		// Aligned with Distributions: entry i holds what resource i has beyond
		// distribution i (Explore links, an SNS topic's Region, …).
		extra["Resources"] = resExtra
	}
	if len(extra) > 0 {
		rec.Extra = extra
	}
	return rec
}

// distribution maps one resource. An S3 resource (an s3 ARN; "S3 Bucket" has
// one, checkResources sees to it) fills S3 with the bucket or access point and the
// key prefix from the ARN, and URL with its s3:// address. Other resources (SNS
// topics, CloudFront distributions, snapshots) have no S3: URL is how to reach
// them (the CloudFront host as an https URL, else the ARN, which is what one
// subscribes to or copies) and Format their Type. The resource's fields that have
// no place in a Distribution come back as left, nil when none.
func distribution(r *yaml.Node) (d harvest.Distribution, left map[string]any) {
	used := map[string]bool{"Description": true, "Type": true}
	typ := text(mapValue(r, "Type"))
	arn := text(mapValue(r, "ARN"))
	host := text(mapValue(r, "Host"))
	d.Title = text(mapValue(r, "Description"))

	if a, err := ParseARN(arn); err == nil && a.Service == "s3" {
		bucket, prefix, _ := a.S3Location()
		s3 := &harvest.S3Resource{
			ARN:              arn,
			Region:           text(mapValue(r, "Region")),
			Bucket:           bucket,
			Prefix:           prefix,
			Type:             typ,
			ControlledAccess: text(mapValue(r, "ControlledAccess")),
		}
		if n := mapValue(r, "RequesterPays"); n != nil {
			s3.RequesterPays, _ = yamlBool(n)
		}
		if n := mapValue(r, "AccountRequired"); n != nil {
			s3.AccountRequired, _ = yamlBool(n)
		}
		d.S3 = s3
		d.URL = "s3://" + bucket
		if prefix != "" {
			d.URL += "/" + prefix
		}
		for _, k := range []string{"ARN", "Region", "RequesterPays", "AccountRequired", "ControlledAccess"} {
			used[k] = true
		}
	} else {
		d.Format = typ
		switch {
		case host != "":
			d.URL = host
			if !strings.HasPrefix(host, "http://") && !strings.HasPrefix(host, "https://") {
				d.URL = "https://" + host
			}
			used["Host"] = true
		case arn != "":
			d.URL = arn
			used["ARN"] = true
		}
	}
	for i := 0; i+1 < len(r.Content); i += 2 {
		k := r.Content[i].Value
		if used[k] {
			continue
		}
		if v := plain(deref(r.Content[i+1])); v != nil {
			if left == nil {
				left = map[string]any{}
			}
			left[k] = v
		}
	}
	return d, left
}

// text is a scalar's value without surrounding blanks ("|" blocks end in a newline).
func text(n *yaml.Node) string {
	if n == nil || isNull(n) || n.Kind != yaml.ScalarNode {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// texts is a list of strings, blanks dropped, order kept; nil when empty.
func texts(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	var out []string
	for _, item := range n.Content {
		if s := text(deref(item)); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// plain converts a node for Extra into JSON-ready values (map[string]any, []any,
// string, bool), dropping empty values so that an empty "Publications:" and a
// missing one are the same record. nil when nothing is left.
func plain(n *yaml.Node) any {
	n = deref(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := plain(n.Content[i+1]); v != nil {
				m[n.Content[i].Value] = v
			}
		}
		if len(m) == 0 {
			return nil
		}
		return m
	case yaml.SequenceNode:
		var l []any
		for _, item := range n.Content {
			if v := plain(item); v != nil {
				l = append(l, v)
			}
		}
		if len(l) == 0 {
			return nil
		}
		return l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			b, _ := yamlBool(n)
			return b
		}
		if s := strings.TrimSpace(n.Value); s != "" {
			return s
		}
	}
	return nil
}

var (
	mdLinkRE   = regexp.MustCompile(`!?\[([^\]]*)\]\(([^)]*)\)`)           // [text](url), ![alt](src)
	mdRevRE    = regexp.MustCompile(`\(([^()]+)\)\[(https?://[^\]\s]*)\]`) // (text)[url], a common slip
	parenURLRE = regexp.MustCompile(`\s*\((https?://[^()\s]*)\)`)          // "Name (https://…)"
	urlRE      = regexp.MustCompile(`https?://[^\s<>()\[\]"'|]+`)
	spacesRE   = regexp.MustCompile(`\s+`)
)

// publisher makes a plain name of ManagedBy: "[NOAA](http://www.noaa.gov/)" is
// NOAA, "Name (https://…)" and "Name https://…" are Name; a bare URL stays. Some entries quote the value inside a block
// scalar ("|" then `"[NOAA](…)"`), so surrounding quotes go too.
func publisher(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	out := mdLinkRE.ReplaceAllString(s, "$1")
	out = mdRevRE.ReplaceAllString(out, "$1")
	out = parenURLRE.ReplaceAllString(out, "")
	out = urlRE.ReplaceAllString(out, "")
	if strings.Count(out, "[") != strings.Count(out, "]") {
		out = strings.NewReplacer("[", "", "]", "").Replace(out)
	}
	out = strings.TrimSpace(spacesRE.ReplaceAllString(out, " "))
	if out == "" {
		return s
	}
	return out
}

// firstURL is the documentation link: the whole field when it is a URL (spaces,
// which some entries leave in a path, encoded), else the first http(s) URL in it
// (a markdown link's target, a bare URL), else "".
func firstURL(s string) string {
	s = strings.TrimSpace(s)
	if (strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")) &&
		!strings.ContainsAny(s, "\n\t,") && strings.Count(s, "http") == 1 {
		return strings.ReplaceAll(s, " ", "%20")
	}
	u := urlRE.FindString(s)
	return strings.TrimRight(u, ".,;:!?")
}

// The summary is short plain text: the first sentence of the first paragraph of
// prose, markup removed, at most maxSummary characters.
const maxSummary = 500

var (
	htmlBreakRE = regexp.MustCompile(`(?i)<\s*(br|/?p|/?div|/?li|/?ul|/?ol|hr)\b[^<>]*>`)
	htmlTagRE   = regexp.MustCompile(`</?[a-zA-Z][^<>]*>`)
	headingRE   = regexp.MustCompile(`^\s{0,3}#{1,6}(\s|$)`)
)

// summaryWindow is how much of a description summarize looks at: enough for a
// first paragraph, and it spares rewriting the markup of the longest descriptions
// (hundreds of kilobytes of NASA product lists) for one sentence.
const summaryWindow = 4 << 10

// summarize returns the first sentence of a markdown/HTML description.
func summarize(desc string) string {
	if len(desc) > summaryWindow {
		cut := summaryWindow
		for cut > 0 && !utf8.RuneStart(desc[cut]) {
			cut--
		}
		desc = desc[:cut]
	}
	// Paragraphs first (HTML breaks count as blank lines), then markup is removed
	// from the one paragraph used.
	s := desc
	if strings.Contains(s, "<") {
		s = htmlBreakRE.ReplaceAllString(s, "\n\n")
	}
	var para []string
	for line := range strings.SplitSeq(s, "\n") {
		if headingRE.MatchString(line) {
			line = "" // a heading ("#### Update") ends a paragraph and is no summary
		}
		if line = strings.TrimSpace(line); line == "" {
			if len(para) > 0 {
				break
			}
			continue
		}
		para = append(para, line)
	}
	p := strings.Join(para, " ")
	if strings.Contains(p, "<") {
		p = htmlTagRE.ReplaceAllString(p, "")
	}
	if strings.Contains(p, "](") {
		p = mdLinkRE.ReplaceAllString(p, "$1")
	}
	p = emphasis.Replace(html.UnescapeString(p))
	p = strings.Join(strings.Fields(p), " ")
	return clip(firstSentence(p), maxSummary)
}

var emphasis = strings.NewReplacer("**", "", "__", "", "`", "")

// abbreviations that end in a period without ending a sentence.
var abbreviations = map[string]bool{
	"e.g": true, "i.e": true, "etc": true, "al": true, "vs": true, "approx": true,
	"dr": true, "mr": true, "mrs": true, "ms": true, "prof": true, "st": true,
	"inc": true, "ltd": true, "co": true, "corp": true, "no": true, "fig": true,
	"cf": true, "jr": true, "sr": true, "ca": true, "incl": true, "dept": true,
	"univ": true, "vol": true, "ver": true, "est": true, "u.s": true, "u.k": true,
}

// firstSentence ends p at the first ".", "!" or "?" that is followed by a space
// and a capital, digit or opening mark, and does not close an abbreviation or an
// initial ("J. Smith").
func firstSentence(p string) string {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '.' && c != '!' && c != '?' {
			continue
		}
		if i+1 == len(p) {
			return p
		}
		if p[i+1] != ' ' {
			continue
		}
		next, _ := utf8.DecodeRuneInString(p[i+2:])
		if !(unicode.IsUpper(next) || unicode.IsDigit(next) || strings.ContainsRune(`"“'‘([`, next)) {
			continue
		}
		if c == '.' {
			word := strings.TrimLeft(p[strings.LastIndexByte(p[:i], ' ')+1:i], "(\"“‘'")
			if utf8.RuneCountInString(word) == 1 || abbreviations[strings.ToLower(word)] {
				continue
			}
		}
		return p[:i+1]
	}
	return p
}

// clip shortens s to at most max characters, at a word boundary, marking the cut.
func clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	cut := len(r)
	for j := len(r) - 1; j > max*3/4; j-- {
		if unicode.IsSpace(r[j]) {
			cut = j
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), func(c rune) bool {
		return unicode.IsSpace(c) || unicode.IsPunct(c)
	}) + "…"
}
