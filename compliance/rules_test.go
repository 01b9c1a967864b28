package compliance_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/compliance"
)

// ruleCase is one assessment and what it must come to.
type ruleCase struct {
	name      string
	rule      string // the rule it is about
	facts     compliance.Facts
	approvals []compliance.Approval
	today     string
	outcome   string
	fired     []string
	notFired  []string
	satisfied map[string]bool
}

func export(pi, sensitive int64) compliance.Facts {
	return compliance.Facts{Direction: "export", Exporter: compliance.ExporterFacts{ID: "exp"}, Recipient: compliance.RecipientFacts{ID: "rcv", Jurisdiction: "SG"},
		Data: compliance.DataFacts{Grade: "general", Sublevel: 2, PISubjects: pi, SensitivePISubjects: sensitive, Category: "e-commerce"}, Purpose: "other"}
}

func with(f compliance.Facts, edit func(*compliance.Facts)) compliance.Facts {
	edit(&f)
	return f
}

var evidence = []compliance.Approval{
	{Kind: "pipia_report", Reference: "PIPIA-1", ExporterID: "exp", IssuedOn: "2026-05-01"},
	{Kind: "notice_declaration", Reference: "N-1", ExporterID: "exp", IssuedOn: "2026-05-01"},
	{Kind: "consent_declaration", Reference: "C-1", ExporterID: "exp", IssuedOn: "2026-05-01"},
}

func plus(as ...compliance.Approval) []compliance.Approval {
	return append(slices.Clone(evidence), as...)
}

var listing = compliance.ProductFacts{ID: "prd", ComplianceAssessment: true, Scenarios: 2, RightsClaimed: true, DeliveryModes: []string{"api"}}

var ruleCases = []ruleCase{
	// R1: core data never leaves.
	{name: "core export", rule: "R1", facts: with(export(0, 0), func(f *compliance.Facts) { f.Data.Grade, f.Data.Sublevel = "core", 0 }), outcome: "deny", fired: []string{"R1"}},
	{name: "core stays home", rule: "R1", facts: with(export(0, 0), func(f *compliance.Facts) { f.Data.Grade, f.Data.Sublevel, f.Direction = "core", 0, "domestic" }), outcome: "allow", notFired: []string{"R1"}},
	// R2 and R3: notified important data needs a security assessment; not notified is general.
	{name: "notified important data", rule: "R2", facts: with(export(0, 0), func(f *compliance.Facts) {
		f.Data.Grade, f.Data.Sublevel, f.Data.ImportantNotified = "important", 0, true
	}), outcome: "require", fired: []string{"R2"}, satisfied: map[string]bool{"security_assessment": false}},
	{name: "important data not notified", rule: "R3", facts: with(export(0, 0), func(f *compliance.Facts) { f.Data.Grade, f.Data.Sublevel = "important", 0 }),
		outcome: "allow", fired: []string{"R3"}, notFired: []string{"R2"}},
	// R4: a CIIO with any PI; exemptions R8–R10 lift it, never R13.
	{name: "CIIO with one PI subject", rule: "R4", facts: with(export(1, 0), func(f *compliance.Facts) { f.Exporter.CIIO = true }),
		approvals: evidence, outcome: "require", fired: []string{"R4"}, satisfied: map[string]bool{"security_assessment": false, "pi_protection": true}},
	{name: "CIIO re-exporting PI collected abroad", rule: "R9", facts: with(export(5000, 0), func(f *compliance.Facts) { f.Exporter.CIIO, f.Data.CollectedAbroad = true, true }),
		approvals: evidence, outcome: "allow", fired: []string{"R4", "R9", "R13"}},
	{name: "CIIO with PI collected abroad but domestic PI added", rule: "R9", facts: with(export(5000, 0), func(f *compliance.Facts) {
		f.Exporter.CIIO, f.Data.CollectedAbroad, f.Data.DomesticAdded = true, true, true
	}), approvals: evidence, outcome: "require", notFired: []string{"R9"}, satisfied: map[string]bool{"security_assessment": false}},
	// R5 and R6 at their boundaries.
	{name: "PI 999,999", rule: "R6", facts: export(999_999, 0), outcome: "require", fired: []string{"R6"}, notFired: []string{"R5"}},
	{name: "PI 1,000,000", rule: "R5", facts: export(1_000_000, 0), outcome: "require", fired: []string{"R5"}, notFired: []string{"R6"},
		satisfied: map[string]bool{"security_assessment": false}},
	{name: "sensitive PI 9,999", rule: "R6", facts: export(50_000, 9_999), outcome: "require", fired: []string{"R6"}, notFired: []string{"R5", "R7"}},
	{name: "sensitive PI 10,000", rule: "R5", facts: export(50_000, 10_000), outcome: "require", fired: []string{"R5"}, notFired: []string{"R6"}},
	{name: "sensitive PI 1", rule: "R6", facts: export(10, 1), outcome: "require", fired: []string{"R6"}, notFired: []string{"R7"}},
	{name: "PI 100,000", rule: "R6", facts: export(100_000, 0), outcome: "require", fired: []string{"R6"}, notFired: []string{"R7"}},
	// R7: under the thresholds only R13 remains.
	{name: "PI 99,999, no sensitive PI", rule: "R7", facts: export(99_999, 0), approvals: evidence, outcome: "allow", fired: []string{"R7", "R13"}, notFired: []string{"R6"}},
	{name: "PI 99,999, no evidence", rule: "R13", facts: export(99_999, 0), outcome: "require", fired: []string{"R13"}, satisfied: map[string]bool{"pi_protection": false}},
	// R8: trade data with no PI.
	{name: "CIIO trade data without PI", rule: "R8", facts: with(export(0, 0), func(f *compliance.Facts) { f.Exporter.CIIO, f.Purpose = true, "trade" }),
		outcome: "allow", fired: []string{"R8"}},
	{name: "trade data with PI is not R8", rule: "R8", facts: with(export(200_000, 0), func(f *compliance.Facts) { f.Purpose = "trade" }),
		outcome: "require", fired: []string{"R6"}, notFired: []string{"R8"}},
	// R10: necessity purposes lift the mechanisms, not R13.
	{name: "cross-border HR", rule: "R10", facts: with(export(500_000, 0), func(f *compliance.Facts) { f.Purpose = "hr" }), outcome: "require",
		fired: []string{"R6", "R10", "R13"}, satisfied: map[string]bool{"pi_protection": false}},
	{name: "cross-border HR with evidence", rule: "R10", facts: with(export(500_000, 0), func(f *compliance.Facts) { f.Purpose = "hr" }), approvals: evidence, outcome: "allow"},
	// R11 and R12: the FTZ and its negative list.
	{name: "FTZ data off the list", rule: "R11", facts: with(export(300_000, 0), func(f *compliance.Facts) { f.Exporter.FTZ = "shanghai" }),
		approvals: evidence, outcome: "require", fired: []string{"R6", "R11"}, satisfied: map[string]bool{"post_export_report": false}},
	{name: "FTZ data off the list, reported", rule: "R11", facts: with(export(300_000, 0), func(f *compliance.Facts) { f.Exporter.FTZ = "shanghai" }),
		approvals: plus(compliance.Approval{Kind: "ftz_post_export_report", Reference: "RPT-9", IssuedOn: "2026-05-20"}), outcome: "allow"},
	{name: "FTZ data under a contract item", rule: "R12", facts: with(export(300_000, 0), func(f *compliance.Facts) {
		f.Exporter.FTZ, f.Data.NegativeListItems = "shanghai", []string{"SH-TRADE-01"}
	}), approvals: evidence, outcome: "require", fired: []string{"R12", "R6"}, notFired: []string{"R11"},
		satisfied: map[string]bool{"contract_or_certification": false}},
	{name: "FTZ data under a security-assessment item, HR purpose", rule: "R12", facts: with(export(0, 0), func(f *compliance.Facts) {
		f.Exporter.FTZ, f.Data.NegativeListItems, f.Purpose = "shanghai", []string{"SH-AUTO-01"}, "hr"
	}), outcome: "require", fired: []string{"R12", "R10"}, satisfied: map[string]bool{"security_assessment": false}},
	{name: "an unknown negative-list item", rule: "R12", facts: with(export(0, 0), func(f *compliance.Facts) {
		f.Exporter.FTZ, f.Data.NegativeListItems = "shanghai", []string{"SH-NEW-99"}
	}), outcome: "require", satisfied: map[string]bool{"security_assessment": false}},
	// R13: all three pieces of evidence.
	{name: "two of three R13 documents", rule: "R13", facts: export(10, 0), approvals: evidence[:2], outcome: "require", satisfied: map[string]bool{"pi_protection": false}},
	// R14: the year so far counts.
	{name: "60,000 so far plus 50,000", rule: "R14", facts: with(export(50_000, 0), func(f *compliance.Facts) { f.PISubjectsYTD = 60_000 }),
		outcome: "require", fired: []string{"R14", "R6"}},
	{name: "50,000 alone", rule: "R14", facts: export(50_000, 0), approvals: evidence, outcome: "allow", notFired: []string{"R6", "R14"}},
	{name: "950,000 sensitive-free so far plus 60,000", rule: "R14", facts: with(export(60_000, 0), func(f *compliance.Facts) { f.PISubjectsYTD = 950_000 }),
		outcome: "require", fired: []string{"R5"}},
	// R15: restricted recipients.
	{name: "restricted recipient", rule: "R15", facts: with(export(0, 0), func(f *compliance.Facts) { f.Recipient.Restricted = true }), outcome: "deny", fired: []string{"R15"}},
	// R16: security assessments last 3 years (6 extended); expiry yesterday / today / tomorrow.
	{name: "assessment 3 years old tomorrow", rule: "R16", facts: export(2_000_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-1", IssuedOn: "2023-06-02"}), outcome: "allow"},
	{name: "assessment 3 years old today", rule: "R16", facts: export(2_000_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-1", IssuedOn: "2023-06-01"}), outcome: "require", fired: []string{"R16"}},
	{name: "extended assessment", rule: "R16", facts: export(2_000_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-1", IssuedOn: "2023-06-01", Extended: true}), outcome: "allow", notFired: []string{"R16"}},
	{name: "valid until yesterday", rule: "R16", facts: export(2_000_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-2", IssuedOn: "2025-01-01", ValidUntil: "2026-05-31"}), outcome: "require"},
	{name: "valid until today", rule: "R16", facts: export(2_000_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-2", IssuedOn: "2025-01-01", ValidUntil: "2026-06-01"}), outcome: "allow"},
	{name: "valid until tomorrow", rule: "R16", facts: export(2_000_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-2", IssuedOn: "2025-01-01", ValidUntil: "2026-06-02"}), outcome: "allow"},
	{name: "assessment for another recipient", rule: "R16", facts: export(2_000_000, 0),
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-3", IssuedOn: "2025-01-01", Recipients: []string{"other"}}), outcome: "require"},
	{name: "assessment of another exporter", rule: "R16", facts: export(2_000_000, 0),
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-4", ExporterID: "someone-else", IssuedOn: "2025-01-01"}), outcome: "require"},
	{name: "revoked assessment", rule: "R16", facts: export(2_000_000, 0),
		approvals: plus(compliance.Approval{Kind: "security_assessment", Reference: "SA-5", IssuedOn: "2025-01-01", Revoked: true}), outcome: "require"},
	// R17: certifications last 3 years.
	{name: "certification 3 years old", rule: "R17", facts: export(200_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "pi_certification", Reference: "CERT-1", IssuedOn: "2023-06-01"}), outcome: "require", fired: []string{"R17"}},
	{name: "certification 3 years old tomorrow", rule: "R17", facts: export(200_000, 0), today: "2026-06-01",
		approvals: plus(compliance.Approval{Kind: "pi_certification", Reference: "CERT-1", IssuedOn: "2023-06-02"}), outcome: "allow"},
	// R18: standard contracts filed within 10 working days (the May Day holidays skipped).
	{name: "contract filed on the 10th working day", rule: "R18", facts: export(200_000, 0),
		approvals: plus(compliance.Approval{Kind: "standard_contract", Reference: "SCC-1", IssuedOn: "2026-04-29", EffectiveOn: "2026-04-30", FiledOn: "2026-05-19"}), outcome: "allow"},
	{name: "contract filed on the 11th working day", rule: "R18", facts: export(200_000, 0),
		approvals: plus(compliance.Approval{Kind: "standard_contract", Reference: "SCC-1", IssuedOn: "2026-04-29", EffectiveOn: "2026-04-30", FiledOn: "2026-05-20"}),
		outcome:   "require", fired: []string{"R18"}},
	{name: "contract not filed", rule: "R18", facts: export(200_000, 0),
		approvals: plus(compliance.Approval{Kind: "standard_contract", Reference: "SCC-2", IssuedOn: "2026-05-20", EffectiveOn: "2026-05-20"}), outcome: "require", fired: []string{"R18"}},
	// R19 and R20: listing checks.
	{name: "listing flagged by review", rule: "R19", facts: compliance.Facts{Context: "listing", Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Product: with(compliance.Facts{Product: listing}, func(f *compliance.Facts) { f.Product.ReviewFlags = []string{"privacy"} }).Product}, outcome: "deny", fired: []string{"R19"}},
	{name: "listing with no rights claimed", rule: "R19", facts: compliance.Facts{Context: "listing", Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Product: with(compliance.Facts{Product: listing}, func(f *compliance.Facts) { f.Product.RightsClaimed = false }).Product}, outcome: "deny", fired: []string{"R19"}},
	{name: "a clean listing", rule: "R19", facts: compliance.Facts{Context: "listing", Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1}, Product: listing},
		outcome: "allow", notFired: []string{"R19", "R20"}},
	{name: "deal without a compliance assessment", rule: "R20", facts: compliance.Facts{Context: "deal", Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Product: with(compliance.Facts{Product: listing}, func(f *compliance.Facts) { f.Product.ComplianceAssessment = false }).Product}, outcome: "deny", fired: []string{"R20"}},
	{name: "listing without a scenario", rule: "R20", facts: compliance.Facts{Context: "listing", Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Product: with(compliance.Facts{Product: listing}, func(f *compliance.Facts) { f.Product.Scenarios = 0 }).Product}, outcome: "deny", fired: []string{"R20"}},
	// R21: public data never raw.
	{name: "public data by API", rule: "R21", facts: compliance.Facts{Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1, Source: "public"}, DeliveryMode: "api"},
		outcome: "deny", fired: []string{"R21"}},
	{name: "public data in a sandbox", rule: "R21", facts: compliance.Facts{Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1, Source: "public"}, DeliveryMode: "sandbox"},
		outcome: "allow", notFired: []string{"R21"}},
	{name: "listing public data for file delivery", rule: "R21", facts: compliance.Facts{Context: "listing", Direction: "domestic", Data: compliance.DataFacts{Grade: "general", Sublevel: 1, Source: "public"},
		Product: with(compliance.Facts{Product: listing}, func(f *compliance.Facts) { f.Product.DeliveryModes = []string{"sandbox", "file"} }).Product}, outcome: "deny", fired: []string{"R21"}},
	// R22: foreign products come in through a certified agent.
	{name: "import without an agency contract", rule: "R22", facts: compliance.Facts{Direction: "import", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Supplier: compliance.SupplierFacts{Foreign: true}, Agent: compliance.AgentFacts{Domestic: true, Whitelisted: true, KYCVerified: true, Active: true}},
		outcome: "require", fired: []string{"R22"}, satisfied: map[string]bool{"agency_contract": false}},
	{name: "import through a certified agent", rule: "R22", facts: compliance.Facts{Direction: "import", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Supplier: compliance.SupplierFacts{Foreign: true}, Agent: compliance.AgentFacts{Domestic: true, Whitelisted: true, KYCVerified: true, Active: true, ContractInForce: true}},
		outcome: "allow", fired: []string{"R22"}, satisfied: map[string]bool{"agency_contract": true}},
	{name: "import through a suspended agent", rule: "R22", facts: compliance.Facts{Direction: "import", Data: compliance.DataFacts{Grade: "general", Sublevel: 1},
		Supplier: compliance.SupplierFacts{Foreign: true}, Agent: compliance.AgentFacts{Domestic: true, Whitelisted: true, KYCVerified: true, ContractInForce: true}},
		outcome: "require", satisfied: map[string]bool{"agency_contract": false}},
}

func run(p *compliance.Pack, c ruleCase) error {
	today := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if c.today != "" {
		today, _ = time.Parse(time.DateOnly, c.today)
	}
	f := c.facts
	res, err := p.Evaluate(&f, c.approvals, today)
	if err != nil {
		return err
	}
	fired := res.FiredIDs()
	if res.Outcome != c.outcome {
		return fmt.Errorf("outcome %s, want %s (fired %v, requirements %+v)", res.Outcome, c.outcome, fired, res.Requirements)
	}
	for _, id := range c.fired {
		if !slices.Contains(fired, id) {
			return fmt.Errorf("%s did not fire (fired %v)", id, fired)
		}
	}
	for _, id := range c.notFired {
		if slices.Contains(fired, id) {
			return fmt.Errorf("%s fired (fired %v)", id, fired)
		}
	}
	for id, want := range c.satisfied {
		i := slices.IndexFunc(res.Requirements, func(r compliance.RequirementResult) bool { return r.ID == id })
		if i < 0 || res.Requirements[i].Satisfied != want {
			return fmt.Errorf("requirement %s: want satisfied = %v, have %+v", id, want, res.Requirements)
		}
	}
	if len(res.Reasons.En) != len(res.Fired) || len(res.Reasons.Zh) != len(res.Fired) {
		return fmt.Errorf("reasons %v / %v for %d rules", res.Reasons.En, res.Reasons.Zh, len(res.Fired))
	}
	return nil
}

func TestRules(t *testing.T) {
	p, err := compliance.Compile(compliance.DefaultPackSource)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range ruleCases {
		t.Run(c.rule+"/"+c.name, func(t *testing.T) {
			if err := run(p, c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Every rule R1–R22 has a case that fails when the rule is taken out of the pack.
func TestEveryRuleIsNeeded(t *testing.T) {
	src := string(compliance.DefaultPackSource)
	starts := regexp.MustCompile(`(?m)^  - id: (R\d+)\n`).FindAllStringSubmatchIndex(src, -1)
	testsAt := strings.Index(src, "\ntests:")
	if len(starts) != 22 {
		t.Fatalf("the pack has %d rules, want R1–R22", len(starts))
	}
	for i, m := range starts {
		id := src[m[2]:m[3]]
		end := testsAt + 1
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		without := src[:m[0]] + src[end:]
		t.Run(id, func(t *testing.T) {
			p, err := compliance.CompileWithoutTests([]byte(without))
			if err != nil {
				return // the rest of the pack depends on it: removing it is caught at compile
			}
			for _, c := range ruleCases {
				if run(p, c) != nil {
					return
				}
			}
			t.Fatalf("no case fails without %s", id)
		})
	}
}

// The restricted list is pack data (R15): adding a recipient to it is a new pack
// version, and that recipient's exports are denied from then on.
func TestRestrictedListInPackData(t *testing.T) {
	src := strings.Replace(string(compliance.DefaultPackSource), "restricted_recipients: []", "restricted_recipients: [rcv]", 1)
	p, err := compliance.Compile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c := ruleCase{facts: export(10, 0), approvals: evidence, outcome: "deny", fired: []string{"R15"}}
	if err := run(p, c); err != nil {
		t.Fatal(err)
	}
	other := with(export(10, 0), func(f *compliance.Facts) { f.Recipient.ID = "someone-else" })
	if err := run(p, ruleCase{facts: other, approvals: evidence, outcome: "allow", notFired: []string{"R15"}}); err != nil {
		t.Fatal(err)
	}
}
