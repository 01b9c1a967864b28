package search_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dataport/dataport/catalog/search"
)

func texts(ts []search.Term) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Text)
	}
	return out
}

// matches reports whether every query term is among the text's index terms, which is
// what the engines check.
func matches(text, q string) bool {
	have := texts(search.Analyze(text))
	qs := search.Query(q)
	if len(qs) == 0 {
		return false
	}
	for _, t := range qs {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}

func TestBilingualMatching(t *testing.T) {
	for _, c := range []struct {
		text, query string
		want        bool
	}{
		{"小微企业信用评分模型", "信用", true},
		{"小微企业信用评分模型", "信用评分", true},
		{"小微企业信用评分模型", "评分模型", true},
		{"小微企业信用评分模型", "信", true},
		{"小微企业信用评分模型", "信评", false}, // not neighbours
		{"北海原油产量与油气田数据", "油", true},
		{"北海原油产量与油气田数据", "油价", false},
		{"Credit scoring for SMEs", "score", true},
		{"SME credit score", "scoring", true},
		{"Shipping indexes, daily", "index", true},
		{"Container shipping", "shipped", true},
		{"ＤＡＴＡ ２０２６", "data 2026", true},
		{"Alternative data for China's private equity", "china", true},
		{"ESG评分data", "评分 data", true},
		{"ESG评分data", "esg", true},
		{"航运指数 Shipping Index", "shipping 指数", true},
		{"Credit scoring", "credit card", false},
		{"anything", "", false},
		{"anything", "!!! ...", false},
	} {
		if got := matches(c.text, c.query); got != c.want {
			t.Errorf("%q ~ %q: %v, want %v (index %v, query %v)", c.text, c.query, got, c.want,
				texts(search.Analyze(c.text)), search.Query(c.query))
		}
	}
}

func TestOffsetsPointIntoTheText(t *testing.T) {
	text := "数据 Scoring，ＤＡＴＡ信用"
	for _, term := range search.Analyze(text) {
		if term.Start < 0 || term.End > len(text) || term.Start >= term.End {
			t.Fatalf("term %+v out of %q", term, text)
		}
	}
	var found bool
	for _, term := range search.Analyze(text) {
		if term.Text == "score" {
			found = text[term.Start:term.End] == "Scoring"
		}
	}
	if !found {
		t.Fatalf("the stem of Scoring does not point at it: %+v", search.Analyze(text))
	}
}

func TestQueryTerms(t *testing.T) {
	for q, want := range map[string]string{
		"信用":             "信用",
		"油":              "油",
		"信用评分":           "信用 用评 评分",
		"Scoring models": "score model",
		"data data 数据":   "data 数据",
	} {
		if got := strings.Join(search.Query(q), " "); got != want {
			t.Errorf("Query(%q) = %q, want %q", q, got, want)
		}
	}
}

func FuzzAnalyze(f *testing.F) {
	f.Add("小微企业信用评分模型 Credit scoring ＤＡＴＡ")
	f.Add("\xff\xfe’'s")
	f.Fuzz(func(t *testing.T, s string) {
		for _, term := range search.Analyze(s) {
			if term.Text == "" || term.Start < 0 || term.End > len(s) || term.Start >= term.End {
				t.Fatalf("bad term %+v for %q", term, s)
			}
		}
		search.Query(s)
	})
}
