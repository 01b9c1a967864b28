package compliance_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/compliance"
)

func TestDefaultPackCompiles(t *testing.T) {
	p, err := compliance.Compile(compliance.DefaultPackSource)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(p.Version, p.Rules())
}

// A bad pack is refused with the rule and the line.
func TestBadPacksAreRefused(t *testing.T) {
	src := string(compliance.DefaultPackSource)
	for _, c := range []struct {
		name, from, to string
		want           []string
	}{
		{"CEL syntax error", `(recipient.restricted || recipient.id`, `(recipient.restricted || || recipient.id`,
			[]string{"rule R15", "line", "Syntax error"}},
		{"unknown fact field", `(recipient.restricted || recipient.id`, `(recipient.sanctioned || recipient.id`,
			[]string{"rule R15", "undefined field 'sanctioned'"}},
		{"unknown rule key", "    source: \"PIPL art. 42\"\n", "    source: \"PIPL art. 42\"\n    severity: high\n",
			[]string{"rule R15", "unknown field \"severity\""}},
		{"condition that is not a bool", `direction == "export" && (recipient.restricted || recipient.id in pack.restricted_recipients)`, `direction`,
			[]string{"rule R15", "want bool"}},
		{"exempting what is not exemptible", "    exempts: [R4, R5, R6]\n    reason: {en: \"Data from trade", "    exempts: [R4, R5, R6, R13]\n    reason: {en: \"Data from trade",
			[]string{"rule R8", "R13 requires pi_protection, which no exemption removes"}},
		{"a failing case", "expect: {outcome: deny, fired: [R1]}", "expect: {outcome: allow, fired: [R1]}",
			[]string{"test 1 (core data is denied)", "outcome deny, want allow"}},
		{"a requirement that does not exist", "requires: [security_assessment]\n    reason: {en: \"Notified", "requires: [security_review]\n    reason: {en: \"Notified",
			[]string{"rule R2", "no requirement \"security_review\""}},
		{"no bilingual reason", `reason: {en: "The recipient is on the PIPL art. 42 restricted list.", zh: "接收方列入个人信息保护法第四十二条限制清单。"}`,
			`reason: {en: "The recipient is on the PIPL art. 42 restricted list."}`, []string{"rule R15", "English and Chinese"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(src, c.from) {
				t.Fatalf("the default pack has no %q", c.from)
			}
			_, err := compliance.Compile([]byte(strings.Replace(src, c.from, c.to, 1)))
			var pe *compliance.PackError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a PackError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("%q does not say %q", err, w)
				}
			}
			if pe.Line == 0 {
				t.Fatalf("%v names no line", err)
			}
		})
	}
}

func BenchmarkAssess(b *testing.B) {
	p, err := compliance.Compile(compliance.DefaultPackSource)
	if err != nil {
		b.Fatal(err)
	}
	approvals := []compliance.Approval{
		{Kind: "pi_certification", Reference: "CERT-1", ExporterID: "exp", IssuedOn: "2025-01-10"},
		{Kind: "pipia_report", Reference: "PIPIA-1", IssuedOn: "2026-05-01"},
		{Kind: "notice_declaration", Reference: "N-1", IssuedOn: "2026-05-01"},
		{Kind: "consent_declaration", Reference: "C-1", IssuedOn: "2026-05-01"},
	}
	today := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			f := compliance.Facts{Direction: "export", Exporter: compliance.ExporterFacts{ID: "exp"},
				Data: compliance.DataFacts{Grade: "general", Sublevel: 2, PISubjects: 150000}, Purpose: "other", PISubjectsYTD: 20000}
			res, err := p.Evaluate(&f, approvals, today)
			if err != nil || res.Outcome != "allow" {
				b.Fatal(res, err)
			}
		}
	})
}

// BenchmarkAssessLatency reports the latency distribution of one assessment at a
// time: p50 and p99 in microseconds.
func BenchmarkAssessLatency(b *testing.B) {
	p, err := compliance.Compile(compliance.DefaultPackSource)
	if err != nil {
		b.Fatal(err)
	}
	approvals := []compliance.Approval{{Kind: "pi_certification", Reference: "CERT-1", ExporterID: "exp", IssuedOn: "2025-01-10"}}
	today := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		f := compliance.Facts{Direction: "export", Exporter: compliance.ExporterFacts{ID: "exp"},
			Data: compliance.DataFacts{Grade: "general", Sublevel: 2, PISubjects: 150000}, Purpose: "other"}
		start := time.Now()
		if _, err := p.Evaluate(&f, approvals, today); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-µs")
}
