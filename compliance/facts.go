// Package compliance decides whether data may cross the border, what it needs first,
// and why (CROSS-BORDER-RULES R1–R22). The rules live in a versioned rule pack —
// data (thresholds, purpose lists, the FTZ negative list, the holiday calendar) plus
// rules whose conditions are CEL expressions over the facts of an assessment — so an
// operator can correct them without a release. The default pack ships embedded; a new
// one is compiled and its own test cases run before it can be activated.
package compliance

import (
	"fmt"
	"slices"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

// Facts are what an assessment takes (CROSS-BORDER-RULES, "Facts an assessment
// takes"). Field names in CEL are the json names: data.pi_subjects, exporter.ciio.
type Facts struct {
	// Context is why the assessment is made: listing, deal or what_if.
	Context   string         `json:"context,omitempty" enum:"listing,deal,what_if"`
	Direction string         `json:"direction" enum:"export,import,domestic"`
	Exporter  ExporterFacts  `json:"exporter,omitempty"`
	Recipient RecipientFacts `json:"recipient,omitempty"`
	Data      DataFacts      `json:"data,omitempty"`
	// The exporter's totals since 1 January (Asia/Shanghai), before this transfer
	// (R14). Taken from the engine's counters when the exporter is referenced.
	PISubjectsYTD          int64         `json:"pi_subjects_ytd,omitempty" minimum:"0"`
	SensitivePISubjectsYTD int64         `json:"sensitive_pi_subjects_ytd,omitempty" minimum:"0"`
	Purpose                string        `json:"purpose,omitempty" enum:"trade,transport,academic,manufacturing,marketing,contract_with_individual,hr,emergency,other"`
	DeliveryMode           string        `json:"delivery_mode,omitempty" enum:"file,api,privacy_computing,sandbox,model_output"`
	Supplier               SupplierFacts `json:"supplier,omitempty"`
	Agent                  AgentFacts    `json:"agent,omitempty"`
	Product                ProductFacts  `json:"product,omitempty"`
}

// ExporterFacts is the party whose data leaves (for an export).
type ExporterFacts struct {
	ID   string `json:"id,omitempty" doc:"participant id: its approvals and year-to-date counters are consulted"`
	CIIO bool   `json:"ciio,omitempty" doc:"a critical information infrastructure operator"`
	FTZ  string `json:"ftz,omitempty" doc:"the free trade zone it is registered in, e.g. shanghai"`
}

// RecipientFacts is who receives the data.
type RecipientFacts struct {
	ID           string `json:"id,omitempty"`
	Jurisdiction string `json:"jurisdiction,omitempty" doc:"ISO 3166-1 alpha-2"`
	Restricted   bool   `json:"restricted,omitempty" doc:"on the PIPL art. 42 restricted list"`
}

// DataFacts describes what is transferred.
type DataFacts struct {
	Category            string   `json:"category,omitempty"`
	Grade               string   `json:"grade" enum:"core,important,general"`
	Sublevel            int64    `json:"sublevel,omitempty" minimum:"0" maximum:"4"`
	ImportantNotified   bool     `json:"important_notified,omitempty"`
	PISubjects          int64    `json:"pi_subjects,omitempty" minimum:"0"`
	SensitivePISubjects int64    `json:"sensitive_pi_subjects,omitempty" minimum:"0"`
	CollectedAbroad     bool     `json:"collected_abroad,omitempty"`
	DomesticAdded       bool     `json:"domestic_added,omitempty"`
	Source              string   `json:"source,omitempty" enum:"public,enterprise,personal"`
	NegativeListItems   []string `json:"negative_list_items,omitempty" doc:"items of the exporter's FTZ negative list the data falls under"`
}

// SupplierFacts is the product's supplier (for imports and listings).
type SupplierFacts struct {
	ID      string `json:"id,omitempty"`
	Foreign bool   `json:"foreign,omitempty"`
}

// AgentFacts is the domestic agent acting for a foreign supplier (R22).
type AgentFacts struct {
	ID          string `json:"id,omitempty"`
	Domestic    bool   `json:"domestic,omitempty"`
	Whitelisted bool   `json:"whitelisted,omitempty"`
	KYCVerified bool   `json:"kyc_verified,omitempty"`
	Active      bool   `json:"active,omitempty"`
	// ContractInForce: an exchange-certified agency contract covering the product is
	// in force.
	ContractInForce bool `json:"contract_in_force,omitempty"`
}

// ProductFacts carries what the listing rules (R19, R20) look at.
type ProductFacts struct {
	ID                   string   `json:"id,omitempty"`
	ComplianceAssessment bool     `json:"compliance_assessment,omitempty" doc:"a third-party compliance assessment report is attached (R20)"`
	Scenarios            int64    `json:"scenarios,omitempty" minimum:"0" doc:"declared use scenarios (R20)"`
	RightsClaimed        bool     `json:"rights_claimed,omitempty" doc:"at least one of the three rights is claimed (R19)"`
	ReviewFlags          []string `json:"review_flags,omitempty" doc:"findings of the operator's review: national_security, public_interest, privacy, no_authorisation (R19)"`
	DeliveryModes        []string `json:"delivery_modes,omitempty" doc:"the delivery modes the product offers (R21)"`
}

var (
	contexts    = []string{"listing", "deal", "what_if"}
	directions  = []string{"export", "import", "domestic"}
	grades      = []string{"core", "important", "general"}
	sources     = []string{"", "public", "enterprise", "personal"}
	purposes    = []string{"", "trade", "transport", "academic", "manufacturing", "marketing", "contract_with_individual", "hr", "emergency", "other"}
	modes       = []string{"", "file", "api", "privacy_computing", "sandbox", "model_output"}
	reviewFlags = []string{"national_security", "public_interest", "privacy", "no_authorisation"}
)

// validate checks facts as given inline; problems name the field.
func (f *Facts) validate(p *dataport.Problems) {
	if f.Context == "" {
		f.Context = "what_if"
	}
	oneOf := func(field, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			p.Add(field, "one of %v", nonEmpty(allowed))
		}
	}
	oneOf("context", f.Context, contexts)
	if f.Direction == "" {
		p.Add("direction", "required: export, import or domestic")
	} else {
		oneOf("direction", f.Direction, directions)
	}
	oneOf("data.grade", f.Data.Grade, grades)
	oneOf("data.source", f.Data.Source, sources)
	oneOf("purpose", f.Purpose, purposes)
	oneOf("delivery_mode", f.DeliveryMode, modes)
	switch {
	case f.Data.Grade == "general" && (f.Data.Sublevel < 1 || f.Data.Sublevel > 4):
		p.Add("data.sublevel", "general data has a sub-level from 1 to 4")
	case f.Data.Grade != "general" && f.Data.Sublevel != 0:
		p.Add("data.sublevel", "only general data has a sub-level")
	}
	for field, n := range map[string]int64{"data.pi_subjects": f.Data.PISubjects, "data.sensitive_pi_subjects": f.Data.SensitivePISubjects,
		"pi_subjects_ytd": f.PISubjectsYTD, "sensitive_pi_subjects_ytd": f.SensitivePISubjectsYTD, "product.scenarios": f.Product.Scenarios} {
		if n < 0 {
			p.Add(field, "not negative")
		}
	}
	if f.Data.SensitivePISubjects > f.Data.PISubjects {
		p.Add("data.sensitive_pi_subjects", "sensitive PI subjects are counted among the PI subjects")
	}
	if f.Recipient.Jurisdiction != "" && !registry.IsCountry(f.Recipient.Jurisdiction) {
		p.Add("recipient.jurisdiction", "an ISO 3166-1 alpha-2 country code")
	}
	for i, fl := range f.Product.ReviewFlags {
		if !slices.Contains(reviewFlags, fl) {
			p.Add(fmt.Sprintf("product.review_flags[%d]", i), "one of %v", reviewFlags)
		}
	}
	for i, m := range f.Product.DeliveryModes {
		if m == "" || !slices.Contains(modes, m) {
			p.Add(fmt.Sprintf("product.delivery_modes[%d]", i), "one of %v", nonEmpty(modes))
		}
	}
	for i, it := range f.Data.NegativeListItems {
		if it == "" || len(it) > 100 {
			p.Add(fmt.Sprintf("data.negative_list_items[%d]", i), "a negative-list item id")
		}
	}
}

func nonEmpty(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
