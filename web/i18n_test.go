package web

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCataloguesMatch: every message is in both languages, and none is empty.
func TestCataloguesMatch(t *testing.T) {
	cats, err := loadCatalogues()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range Langs {
		for _, b := range Langs {
			if a == b {
				continue
			}
			for _, key := range cats[a].sortedKeys() {
				if _, ok := cats[b][key]; !ok {
					t.Errorf("%s has %q, %s does not", a, key, b)
				}
			}
		}
		for key, text := range cats[a] {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %q is empty", a, key)
			}
		}
	}
	// A message's arguments are the same in both languages.
	arg := regexp.MustCompile(`\{\d+\}`)
	for key, en := range cats[En] {
		if got, want := argSet(arg, cats[Zh][key]), argSet(arg, en); got != want {
			t.Errorf("%q takes %s in zh, %s in en", key, got, want)
		}
	}
}

func argSet(re *regexp.Regexp, s string) string {
	seen := map[string]bool{}
	for _, m := range re.FindAllString(s, -1) {
		seen[m] = true
	}
	var out []string
	for i := 0; i < 10; i++ {
		if seen["{"+strconv.Itoa(i)+"}"] {
			out = append(out, strconv.Itoa(i))
		}
	}
	return "{" + strings.Join(out, ",") + "}"
}

// TestEveryKeyUsedExists finds the message keys the templates and the Go code use
// and checks each is in both catalogues: {{t "key"}} in templates, the values of
// every closed set shown with enum, and every string literal of the package's Go
// code that lies in a catalogue's namespace (nav.catalog, signin.error.key, …).
func TestEveryKeyUsedExists(t *testing.T) {
	cats, err := loadCatalogues()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{} // key → where
	tmpl := regexp.MustCompile(`\bt\s+"([^"]+)"`)
	enumUse := regexp.MustCompile(`\benum\s+"([^"]+)"`)
	err = fs.WalkDir(templateFiles, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFiles.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range tmpl.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = p
		}
		for _, m := range enumUse.FindAllStringSubmatch(string(b), -1) {
			if _, ok := enums[m[1]]; !ok {
				t.Errorf("%s shows the set %q with enum, which enums does not list", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for set, values := range enums {
		for _, v := range values {
			used[set+"."+v] = "enums[" + set + "]"
		}
	}
	namespaces := map[string]bool{}
	for key := range cats[En] {
		ns, _, _ := strings.Cut(key, ".")
		namespaces[ns] = true
	}
	key := regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$`)
	fileName := regexp.MustCompile(`\.(html|css|js|json|go|sql)$`) // layout.html is a file, not a message
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !key.MatchString(s) || fileName.MatchString(s) {
				return true
			}
			if ns, _, _ := strings.Cut(s, "."); namespaces[ns] {
				used[s] = fset.Position(lit.Pos()).String()
			}
			return true
		})
	}
	if len(used) < 100 {
		t.Fatalf("found only %d keys in use: the scan is broken", len(used))
	}
	for k, where := range used {
		for _, l := range Langs {
			if _, ok := cats[l][k]; !ok {
				t.Errorf("%s uses %q, which the %s catalogue lacks", where, k, l)
			}
		}
	}
}

// TestMissingMessageIsMarked: a key the catalogue lacks shows as ⟦key⟧, never as
// nothing or as the other language, and is logged.
func TestMissingMessageIsMarked(t *testing.T) {
	var logged bytes.Buffer
	l := &Localizer{Lang: Zh, msgs: catalogue{"greeting": "你好，{0}：{1}"}, log: slog.New(slog.NewTextHandler(&logged, nil))}
	if got := l.T("greeting", "数商", 3); got != "你好，数商：3" {
		t.Errorf("T with arguments: %q", got)
	}
	if got := l.T("nav.nowhere"); got != "⟦nav.nowhere⟧" {
		t.Errorf("a missing key shows %q", got)
	}
	if !strings.Contains(logged.String(), "nav.nowhere") {
		t.Errorf("a missing key is not logged: %q", logged.String())
	}
	if got := l.Enum("status", "teleported"); got != "⟦status.teleported⟧" {
		t.Errorf("a missing value of a closed set shows %q", got)
	}
	if got := l.Label("category", "space-mining"); got != "space-mining" {
		t.Errorf("a value of an open set without words shows %q", got)
	}
}

// TestBilingualText: a bilingual value shows in the page's language, or in the
// other when only that one exists.
func TestBilingualText(t *testing.T) {
	zh, en := &Localizer{Lang: Zh}, &Localizer{Lang: En}
	both := struct{ Zh, En string }{"港口吞吐量", "port throughput"}
	for _, c := range []struct {
		l    *Localizer
		zh   string
		en   string
		want string
	}{
		{zh, both.Zh, both.En, both.Zh}, {en, both.Zh, both.En, both.En},
		{zh, "", both.En, both.En}, {en, both.Zh, " ", both.Zh},
	} {
		if got := c.l.Text(bilingual(c.zh, c.en)); got != c.want {
			t.Errorf("%s of (%q, %q) = %q, want %q", c.l.Lang, c.zh, c.en, got, c.want)
		}
	}
}

// TestChooseLang: the switch's cookie wins, then Accept-Language, then Chinese.
func TestChooseLang(t *testing.T) {
	for _, c := range []struct {
		cookie, accept string
		want           Lang
	}{
		{"", "", Zh},
		{"", "en-US,en;q=0.9", En},
		{"", "zh-CN,zh;q=0.9,en;q=0.8", Zh},
		{"", "zh-TW", Zh},
		{"", "fr-FR,en;q=0.5", En},
		{"", "fr-FR", Zh},
		{"en", "zh-CN", En},
		{"zh", "en-US", Zh},
		{"xx", "en-US", En},
	} {
		r := httptest.NewRequest("GET", "/catalog", nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if c.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+c.cookie)
		}
		if got := chooseLang(r); got != c.want {
			t.Errorf("cookie %q, Accept-Language %q: %s, want %s", c.cookie, c.accept, got, c.want)
		}
	}
}
