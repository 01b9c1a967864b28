package ckan

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/harvest"
)

// pkg is the part of a CKAN package dictionary the connector maps (the default
// dataset schema of CKAN 2.x; title_translated and notes_translated are the
// multilingual fields of the scheming and fluent extensions).
type pkg struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Title            string            `json:"title"`
	TitleTranslated  map[string]string `json:"title_translated"`
	Notes            string            `json:"notes"`
	NotesTranslated  map[string]string `json:"notes_translated"`
	URL              string            `json:"url"`
	Version          string            `json:"version"`
	Author           string            `json:"author"`
	AuthorEmail      string            `json:"author_email"`
	Maintainer       string            `json:"maintainer"`
	MaintainerEmail  string            `json:"maintainer_email"`
	LicenseID        string            `json:"license_id"`
	LicenseTitle     string            `json:"license_title"`
	LicenseURL       string            `json:"license_url"`
	MetadataCreated  string            `json:"metadata_created"`
	MetadataModified string            `json:"metadata_modified"`
	Frequency        any               `json:"frequency"` // a top-level field in scheming schemas
	Organization     *struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	} `json:"organization"`
	Tags []struct {
		Name        string `json:"name"`
		DisplayName string `json:"display_name"`
	} `json:"tags"`
	Groups []struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	} `json:"groups"`
	Resources []struct {
		Name     string `json:"name"`
		URL      string `json:"url"`
		Format   string `json:"format"`
		Mimetype string `json:"mimetype"`
		Size     any    `json:"size"`
	} `json:"resources"`
	Extras []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"extras"`
}

// frequencyKeys are the extras that carry an update frequency, in order of
// preference (the last is DCAT's dct:accrualPeriodicity as ckanext-dcat names it).
var frequencyKeys = []string{"frequency", "update_frequency", "accrualperiodicity"}

// mapPackage maps the n-th package of the page at u; decodeErr is the type error
// decoding it met, if any.
func (c *Connector) mapPackage(p *pkg, decodeErr error, u string, n int) item {
	if decodeErr != nil {
		return problemItem(u, strings.TrimSpace(p.ID), "", fmt.Sprintf("package #%d on the page is malformed: %s", n, describe(decodeErr)))
	}
	p.ID = strings.TrimSpace(p.ID)
	if p.ID == "" {
		return problemItem(u, "", "id", fmt.Sprintf("package #%d on the page (name %q) has no id", n, p.Name))
	}
	ref := c.base + "/dataset/" + url.PathEscape(cmp(p.Name, p.ID))
	r := harvest.Record{ID: p.ID, Ref: ref}
	r.Title = bilingual(p.Title, p.TitleTranslated)
	if r.Title.Zh == "" && r.Title.En == "" {
		return problemItem(ref, p.ID, "title", "package has no title")
	}
	r.Description = bilingual(p.Notes, p.NotesTranslated)
	if p.Organization != nil {
		r.Publisher = cmp(p.Organization.Title, p.Organization.Name)
	}
	r.Contact = strings.TrimSpace(cmp(p.MaintainerEmail, p.AuthorEmail))
	r.Homepage = strings.TrimSpace(p.URL)
	for _, t := range p.Tags {
		if k := strings.TrimSpace(cmp(t.Name, t.DisplayName)); k != "" && !slices.Contains(r.Keywords, k) {
			r.Keywords = append(r.Keywords, k)
		}
	}
	for _, g := range p.Groups {
		if k := strings.TrimSpace(cmp(g.Title, g.Name)); k != "" && !slices.Contains(r.Categories, k) {
			r.Categories = append(r.Categories, k)
		}
	}
	r.License = strings.TrimSpace(cmp(p.LicenseID, p.LicenseURL, p.LicenseTitle))
	var err error
	if r.Issued, err = parseTime(p.MetadataCreated); err != nil {
		return problemItem(ref, p.ID, "metadata_created", err.Error())
	}
	if r.Modified, err = parseTime(p.MetadataModified); err != nil {
		return problemItem(ref, p.ID, "metadata_modified", err.Error())
	}
	for i, res := range p.Resources {
		size, err := parseSize(res.Size)
		if err != nil {
			return problemItem(ref, p.ID, fmt.Sprintf("resources[%d].size", i), err.Error())
		}
		r.Distributions = append(r.Distributions, harvest.Distribution{
			Title: strings.TrimSpace(res.Name), URL: strings.TrimSpace(res.URL),
			Format: strings.TrimSpace(res.Format), MediaType: strings.TrimSpace(res.Mimetype), Size: size,
		})
	}
	extra := map[string]any{}
	for _, kv := range [][2]string{{"name", p.Name}, {"version", p.Version}, {"author", p.Author}, {"maintainer", p.Maintainer}} {
		if v := strings.TrimSpace(kv[1]); v != "" {
			extra[kv[0]] = v
		}
	}
	freq := map[string]string{}
	if s, ok := p.Frequency.(string); ok && strings.TrimSpace(s) != "" {
		freq["frequency"] = strings.TrimSpace(s)
	}
	for _, kv := range p.Extras {
		k := strings.TrimSpace(kv.Key)
		if k == "" {
			continue
		}
		extra[k] = kv.Value
		lk := strings.ToLower(k)
		if s, ok := kv.Value.(string); ok && strings.TrimSpace(s) != "" && slices.Contains(frequencyKeys, lk) {
			if _, have := freq[lk]; !have {
				freq[lk] = strings.TrimSpace(s)
			}
		}
	}
	for _, k := range frequencyKeys {
		if f := freq[k]; f != "" {
			r.UpdateFrequency = f
			break
		}
	}
	if len(extra) > 0 {
		r.Extra = extra
	}
	return item{rec: r}
}

func problemItem(ref, id, field, reason string) item {
	return item{problem: &harvest.Problem{Ref: ref, ID: id, Field: field, Reason: reason}}
}

// cmp returns the first of vs that is not blank.
func cmp(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// bilingual maps a CKAN text and its translations (keys are locale codes: "en",
// "zh", "zh_CN", "zh-Hans", …) to a Bilingual. Translations win; the plain text fills
// the slot its script says (Chinese when it has Han characters) if still empty.
func bilingual(plain string, translated map[string]string) dataport.Bilingual {
	var b dataport.Bilingual
	keys := make([]string, 0, len(translated))
	for k := range translated {
		keys = append(keys, k)
	}
	slices.Sort(keys) // "zh" before "zh_CN" before "zh_TW": a stable choice
	for _, k := range keys {
		v := strings.TrimSpace(translated[k])
		if v == "" {
			continue
		}
		switch lang := strings.ToLower(k); {
		case lang == "zh" || strings.HasPrefix(lang, "zh_") || strings.HasPrefix(lang, "zh-"):
			if b.Zh == "" {
				b.Zh = v
			}
		case lang == "en" || strings.HasPrefix(lang, "en_") || strings.HasPrefix(lang, "en-"):
			if b.En == "" {
				b.En = v
			}
		}
	}
	if plain = strings.TrimSpace(plain); plain != "" {
		if isChinese(plain) {
			if b.Zh == "" {
				b.Zh = plain
			}
		} else if b.En == "" {
			b.En = plain
		}
	}
	return b
}

// isChinese reports whether s is Chinese text: it has Han characters and no kana or
// Hangul (which would make it Japanese or Korean).
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

// parseTime reads a CKAN timestamp. CKAN writes UTC without a zone
// ("2021-03-04T10:20:30.123456"); a zone, when present, is honoured.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 timestamp", s)
}

// parseSize reads a resource size: a number of bytes, null, or a string of digits
// (older portals).
func parseSize(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		if x < 0 || x != math.Trunc(x) || x > math.MaxInt64 {
			return 0, fmt.Errorf("size %v is not a whole number of bytes", x)
		}
		return int64(x), nil
	case string:
		x = strings.TrimSpace(x)
		if x == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("size %q is not a whole number of bytes", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("size %v is not a number", v)
}
