package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"golang.org/x/text/language"
)

// Lang is a language the console speaks. Chinese is Simplified Chinese, as the
// exchange's own names and most of its participants' are written.
type Lang string

const (
	Zh Lang = "zh"
	En Lang = "en"
)

// Langs lists the console's languages in the order the switch shows them.
var Langs = []Lang{Zh, En}

// Tag is the language's BCP 47 tag, for <html lang>.
func (l Lang) Tag() string {
	if l == Zh {
		return "zh-CN"
	}
	return "en"
}

func parseLang(s string) (Lang, bool) {
	switch Lang(s) {
	case Zh, En:
		return Lang(s), true
	}
	return "", false
}

// langCookie remembers the language a person chose with the switch.
const langCookie = "dp_lang"

var langMatcher = language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})

// chooseLang picks the request's language: the one chosen with the switch (the
// cookie), else the best match of Accept-Language, else Chinese.
func chooseLang(r *http.Request) Lang {
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := parseLang(c.Value); ok {
			return l
		}
	}
	if h := r.Header.Get("Accept-Language"); h != "" {
		if tags, _, err := language.ParseAcceptLanguage(h); err == nil && len(tags) > 0 {
			_, i, conf := langMatcher.Match(tags...)
			if conf != language.No {
				return Langs[i]
			}
		}
	}
	return Zh
}

// The message catalogues: a folder per language, locales/<lang>/, of JSON files,
// each an object key → text, one file a part of the console (core.json the
// layout, sign-in, catalog and financing pages; supplier.json, buyer.json, … the
// pages of a role), so that a part's words live beside each other. A key is in
// one file of a language only. A text may take arguments as {0}, {1}, … so that
// each language puts them where its grammar wants them.
//
//go:embed locales
var localeFiles embed.FS

// catalogue is one language's messages.
type catalogue map[string]string

func loadCatalogues() (map[Lang]catalogue, error) {
	out := map[Lang]catalogue{}
	for _, l := range Langs {
		files, err := fs.Glob(localeFiles, "locales/"+string(l)+"/*.json")
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no message files in locales/%s", l)
		}
		c := catalogue{}
		from := map[string]string{} // key → the file that has it
		for _, name := range files {
			b, err := localeFiles.ReadFile(name)
			if err != nil {
				return nil, err
			}
			var part catalogue
			if err := json.Unmarshal(b, &part); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for k, v := range part {
				if first, ok := from[k]; ok {
					return nil, fmt.Errorf("%s: %q is already in %s", name, k, first)
				}
				c[k], from[k] = v, name
			}
		}
		out[l] = c
	}
	return out, nil
}

// missingMark is what a page shows for a message that its catalogue lacks: a
// missing translation must be seen (and the tests look for it), never papered
// over with the key or the other language.
func missingMark(key string) string { return "⟦" + key + "⟧" }

// Localizer speaks one language.
type Localizer struct {
	Lang Lang
	msgs catalogue
	log  *slog.Logger
}

// T returns the message key in the localizer's language with args in place of
// {0}, {1}, …; a key the catalogue lacks comes back marked, and is logged.
func (l *Localizer) T(key string, args ...any) string {
	text, ok := l.msgs[key]
	if !ok {
		l.log.Error("console: message missing from the catalogue", "lang", l.Lang, "key", key)
		return missingMark(key)
	}
	if len(args) == 0 {
		return text
	}
	pairs := make([]string, 0, 2*len(args))
	for i, a := range args {
		pairs = append(pairs, "{"+strconv.Itoa(i)+"}", fmt.Sprint(a))
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// Has reports whether the catalogue has key.
func (l *Localizer) Has(key string) bool {
	_, ok := l.msgs[key]
	return ok
}

// Text shows a bilingual value of the data in the localizer's language, or in the
// other where only that one exists (a foreign supplier's product may have an
// English title only).
func (l *Localizer) Text(b dataport.Bilingual) string {
	first, second := b.Zh, b.En
	if l.Lang == En {
		first, second = b.En, b.Zh
	}
	if strings.TrimSpace(first) != "" {
		return first
	}
	return second
}

// Enum shows a value of one of the exchange's closed sets (a product's type, a
// listing's status, …) by its message "<set>.<value>". Each set the console shows
// is listed in enums, so that the tests can check every value has its words.
func (l *Localizer) Enum(set, value string) string {
	if value == "" {
		return ""
	}
	return l.T(set + "." + value)
}

// Label shows a value of an open set (a category, a jurisdiction) by its message
// "<set>.<value>" when the catalogue has one, and as it is otherwise: such values
// come from the data, and a new category is not a missing translation.
func (l *Localizer) Label(set, value string) string {
	if text, ok := l.msgs[set+"."+value]; ok {
		return text
	}
	return value
}

// enums are the closed sets whose values the pages show through Enum, with every
// value: the i18n tests check each has a message in both languages.
var enums = map[string][]string{
	"role":      rolesOf(dataport.Roles),
	"type":      {"dataset", "api", "report", "model", "service", "tool"},
	"status":    {"draft", "submitted", "under_review", "listed", "rejected", "suspended", "delisted"},
	"grade":     {"core", "important", "general"},
	"delivery":  {"file", "api", "privacy_computing", "sandbox", "model_output"},
	"frequency": {"once", "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"},
	"plan":      {"one_off", "subscription", "per_call"},
	"period":    {"month", "quarter", "year"},
	"source":    {"public", "enterprise", "personal"},
	"mechanism": {"security_assessment", "standard_contract", "certification", "exempt", "negative_list"},
	"attach":    {"compliance_report", "product_description", "quality_report"},
	"outcome":   {"allow", "require", "deny"},
	"facet":     {"type", "category", "origin", "grade", "supplier", "delivery_mode"},
	"sort":      {"relevance", "newest"},
	"signout":   {"revoked", "expired", "suspended", "unknown"},
}

func rolesOf(roles []dataport.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// sortedKeys returns a catalogue's keys in order, for the tests and for messages.
func (c catalogue) sortedKeys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
