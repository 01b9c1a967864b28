// Package catalog keeps the exchange's data products (數據產品): their details in
// revisions, and the listing workflow by which the operator reviews and lists them
// (上架 / 掛牌). Every change is filed; every change of details is a new revision, and
// earlier revisions stay readable.
//
// The workflow, after CROSS-BORDER-RULES "What a listing carries":
//
//	draft ──submit──▶ submitted ──start review──▶ under_review ──approve──▶ listed
//	  ▲                                              │                      │  ▲
//	  └──────────── revise ◀── rejected ◀──reject────┘            suspend ─┘  │ resume
//	                                                   listed ──delist──▶ delisted
//
// A listed (or suspended) product is edited through a pending change: revise makes a
// new revision whose own state runs draft → submitted → under_review → approved
// (it becomes the listed revision and a new certificate is filed) or rejected (revise
// again). Buyers keep seeing the listed revision all the while.
//
// Submission refuses a product without a third-party compliance assessment report or
// a declared use scenario (R20). A foreign supplier's product is created and submitted
// by the domestic agent acting for it (R22); the agency-contract check plugs in
// through AgencyCheck. Listing issues a registration number and files the
// registration certificate.
package catalog

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

// Status is where a product is in the listing workflow.
type Status string

const (
	Draft       Status = "draft"
	Submitted   Status = "submitted"
	UnderReview Status = "under_review"
	Listed      Status = "listed"
	Rejected    Status = "rejected"
	Suspended   Status = "suspended"
	Delisted    Status = "delisted"
)

// Product is a data product with its current details.
type Product struct {
	ID                 string             `json:"id"`
	SupplierID         string             `json:"supplier_id"`
	AgentID            string             `json:"agent_id,omitempty" doc:"the domestic agent acting for a foreign supplier"`
	Status             Status             `json:"status" enum:"draft,submitted,under_review,listed,rejected,suspended,delisted"`
	Revision           int64              `json:"revision" doc:"the revision shown in details"`
	LatestRevision     int64              `json:"latest_revision"`
	ListedRevision     int64              `json:"listed_revision,omitempty" doc:"the revision buyers see; absent before the first listing"`
	RegistrationNumber string             `json:"registration_number,omitempty"`
	RegisteredAt       time.Time          `json:"registered_at,omitzero"`
	ReviewReasons      []string           `json:"review_reasons,omitempty" doc:"why the last review rejected the product or its pending change"`
	Change             *PendingChange     `json:"pending_change,omitempty" doc:"a new revision of a listed product on its way through review"`
	Suspension         *ListingSuspension `json:"suspension,omitempty"`
	Details            Details            `json:"details"`
	DetailsSHA256      string             `json:"details_sha256" doc:"SHA-256 of the revision's canonical JSON"`
	CreatedAt          time.Time          `json:"created_at"`
	UpdatedAt          time.Time          `json:"updated_at"`
	Version            int64              `json:"version"`
}

// ListingSuspension says who stopped a listed product and why.
type ListingSuspension struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// PendingChange is a new revision of a listed or suspended product going through
// review; until it is approved, buyers see the listed revision.
type PendingChange struct {
	Revision int64  `json:"revision"`
	Status   Status `json:"status" enum:"draft,submitted,under_review,rejected"`
}

// reviewState is where the product's latest revision is in the review workflow: the
// product's status, or its pending change's.
func (p *Product) reviewState() Status {
	if p.Change != nil {
		return p.Change.Status
	}
	return p.Status
}

// Revision is one version of a product's details.
type Revision struct {
	ProductID string    `json:"product_id"`
	Revision  int64     `json:"revision"`
	Details   Details   `json:"details"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Details is what a listing carries (CROSS-BORDER-RULES, "What a listing carries").
type Details struct {
	Type        string             `json:"type" enum:"dataset,api,report,model,service,tool"`
	Title       dataport.Bilingual `json:"title"`
	Summary     dataport.Bilingual `json:"summary"`
	Description dataport.Bilingual `json:"description,omitempty"`
	Category    string             `json:"category" maxLength:"64" doc:"e.g. energy, shipping, finance, e-commerce, climate, health"`
	Tags        []string           `json:"tags,omitempty" maxItems:"30"`

	Fields          []Field  `json:"fields,omitempty" maxItems:"500" doc:"the field dictionary"`
	Sample          string   `json:"sample,omitempty" maxLength:"20000" doc:"a few records, as text"`
	Coverage        string   `json:"coverage,omitempty" maxLength:"500" doc:"what the data covers: regions, markets, entities"`
	TimeSpan        TimeSpan `json:"time_span,omitzero"`
	UpdateFrequency string   `json:"update_frequency,omitempty" enum:"once,realtime,hourly,daily,weekly,monthly,quarterly,yearly,irregular"`
	DeliveryModes   []string `json:"delivery_modes" minItems:"1" enum:"file,api,privacy_computing,sandbox,model_output"`
	// Scenarios are the permitted use scenarios declared for the product (R20).
	Scenarios    []string    `json:"scenarios" maxItems:"50"`
	Restrictions string      `json:"restrictions,omitempty" maxLength:"5000"`
	PricePlans   []PricePlan `json:"price_plans" maxItems:"20"`
	UsagePolicy  string      `json:"usage_policy,omitempty" maxLength:"10000" doc:"the usage terms; an ODRL policy arrives with deals"`

	Source              string       `json:"source" enum:"public,enterprise,personal" doc:"where the data comes from (R21)"`
	LawfulBasis         string       `json:"lawful_basis,omitempty" maxLength:"2000"`
	Rights              Rights       `json:"rights"`
	Grade               string       `json:"grade" enum:"core,important,general" doc:"GB/T 43697-2024"`
	Sublevel            int          `json:"sublevel,omitempty" minimum:"0" maximum:"4" doc:"1 to 4, for general data"`
	ImportantNotified   bool         `json:"important_notified,omitempty" doc:"the authority notified or published the data as important (R3)"`
	PISubjects          int64        `json:"pi_subjects" minimum:"0"`
	SensitivePISubjects int64        `json:"sensitive_pi_subjects" minimum:"0"`
	Deidentification    string       `json:"deidentification,omitempty" maxLength:"500"`
	OriginJurisdiction  string       `json:"origin_jurisdiction" doc:"ISO 3166-1 alpha-2: where the data was collected"`
	ExportAllowed       bool         `json:"export_allowed,omitempty"`
	ExportMechanism     string       `json:"export_mechanism,omitempty" enum:"security_assessment,standard_contract,certification,exempt,negative_list"`
	ExportMechanismRef  string       `json:"export_mechanism_reference,omitempty" maxLength:"200"`
	Attachments         []Attachment `json:"attachments,omitempty" maxItems:"20"`

	// Harvested says where a product synchronised from an international platform
	// came from; the harvest sets it, people never do.
	Harvested *Harvested `json:"harvested,omitempty"`
}

// Harvested is the origin of a harvested product: its source, the record there,
// the record's content hash (what the next run compares), and its distributions.
type Harvested struct {
	SourceID      string         `json:"source_id" maxLength:"100"`
	RecordID      string         `json:"record_id" maxLength:"1000"`
	Ref           string         `json:"ref,omitempty" maxLength:"2000"`
	ContentSHA256 string         `json:"content_sha256" maxLength:"64"`
	Publisher     string         `json:"publisher,omitempty" maxLength:"500"`
	Homepage      string         `json:"homepage,omitempty" maxLength:"2000"`
	License       string         `json:"license,omitempty" maxLength:"5000"`
	Distributions []Distribution `json:"distributions,omitempty" maxItems:"200"`
}

// Distribution is one way a harvested dataset is got: a URL, or a bucket of the
// domestic mirror.
type Distribution struct {
	Title        string `json:"title,omitempty" maxLength:"500"`
	URL          string `json:"url,omitempty" maxLength:"2000"`
	Format       string `json:"format,omitempty" maxLength:"100"`
	MirrorBucket string `json:"mirror_bucket,omitempty" maxLength:"63" doc:"the domestic mirror's bucket on the S3 endpoint"`
	MirrorPrefix string `json:"mirror_prefix,omitempty" maxLength:"1024"`
}

// Field describes one field of the data.
type Field struct {
	Name        string             `json:"name" minLength:"1" maxLength:"200"`
	Type        string             `json:"type" maxLength:"50"`
	Description dataport.Bilingual `json:"description,omitzero"`
}

// TimeSpan is the period the data covers (dates, YYYY-MM-DD; To empty while ongoing).
type TimeSpan struct {
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// PricePlan is one way to buy the product. Money is integer minor units.
type PricePlan struct {
	Kind   string         `json:"kind" enum:"one_off,subscription,per_call"`
	Price  dataport.Money `json:"price"`
	Period string         `json:"period,omitempty" enum:"month,quarter,year" doc:"for subscriptions"`
	Name   string         `json:"name,omitempty" maxLength:"100"`
}

// Rights are the three rights claimed (三权分置).
type Rights struct {
	Holding          bool `json:"holding" doc:"data resource holding"`
	ProcessingUse    bool `json:"processing_use" doc:"data processing and use"`
	ProductOperation bool `json:"product_operation" doc:"data product operation"`
}

// Attachment references a document stored content-addressed by its SHA-256.
type Attachment struct {
	Kind   string `json:"kind" enum:"compliance_report,product_description,quality_report"`
	SHA256 string `json:"sha256" pattern:"^[0-9a-f]{64}$"`
	Name   string `json:"name,omitempty" maxLength:"200"`
}

var (
	enumTypes     = set("dataset", "api", "report", "model", "service", "tool")
	enumFrequency = set("", "once", "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular")
	enumDelivery  = set("file", "api", "privacy_computing", "sandbox", "model_output")
	enumPlan      = set("one_off", "subscription", "per_call")
	enumPeriod    = set("month", "quarter", "year")
	enumSource    = set("public", "enterprise", "personal")
	enumGrade     = set("core", "important", "general")
	enumMechanism = set("", "security_assessment", "standard_contract", "certification", "exempt", "negative_list")
	enumAttach    = set("compliance_report", "product_description", "quality_report")
	sha256Hex     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	categoryName  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)
)

func set(xs ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// validate checks details as a draft may hold them: well-formed, not yet complete.
func (d *Details) validate(p *dataport.Problems) {
	d.Title.Zh, d.Title.En = strings.TrimSpace(d.Title.Zh), strings.TrimSpace(d.Title.En)
	if !enumTypes[d.Type] {
		p.Add("type", "one of dataset, api, report, model, service, tool")
	}
	if d.Title.Zh == "" && d.Title.En == "" {
		p.Add("title", "a title in Chinese, English or both")
	}
	for name, t := range map[string]dataport.Bilingual{"title": d.Title, "summary": d.Summary} {
		if utf8.RuneCountInString(t.Zh) > 300 || utf8.RuneCountInString(t.En) > 300 {
			p.Add(name, "at most 300 characters in each language")
		}
	}
	if d.Category != "" && !categoryName.MatchString(d.Category) {
		p.Add("category", "a lower-case category name such as energy or e-commerce")
	}
	for i, tag := range d.Tags {
		if strings.TrimSpace(tag) == "" || utf8.RuneCountInString(tag) > 50 {
			p.Add(fmt.Sprintf("tags[%d]", i), "1 to 50 characters")
		}
	}
	if !enumFrequency[d.UpdateFrequency] {
		p.Add("update_frequency", "once, realtime, hourly, daily, weekly, monthly, quarterly, yearly or irregular")
	}
	for i, m := range d.DeliveryModes {
		if !enumDelivery[m] {
			p.Add(fmt.Sprintf("delivery_modes[%d]", i), "file, api, privacy_computing, sandbox or model_output")
		}
	}
	for i, s := range d.Scenarios {
		if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > 200 {
			p.Add(fmt.Sprintf("scenarios[%d]", i), "1 to 200 characters")
		}
	}
	for i, plan := range d.PricePlans {
		at := fmt.Sprintf("price_plans[%d]", i)
		if !enumPlan[plan.Kind] {
			p.Add(at+".kind", "one_off, subscription or per_call")
		}
		if plan.Price.Amount < 0 {
			p.Add(at+".price.amount", "a price is not negative")
		}
		if !dataport.IsCurrency(plan.Price.Currency) {
			p.Add(at+".price.currency", "an ISO 4217 code such as CNY or USD")
		}
		if plan.Kind == "subscription" && !enumPeriod[plan.Period] {
			p.Add(at+".period", "a subscription is per month, quarter or year")
		}
		if plan.Kind != "subscription" && plan.Period != "" {
			p.Add(at+".period", "only subscriptions have a period")
		}
	}
	for _, ts := range []struct{ field, v string }{{"time_span.from", d.TimeSpan.From}, {"time_span.to", d.TimeSpan.To}} {
		if ts.v != "" {
			if _, err := time.Parse(time.DateOnly, ts.v); err != nil {
				p.Add(ts.field, "a date, YYYY-MM-DD")
			}
		}
	}
	if d.TimeSpan.From != "" && d.TimeSpan.To != "" && d.TimeSpan.To < d.TimeSpan.From {
		p.Add("time_span.to", "ends before it starts")
	}
	if !enumSource[d.Source] {
		p.Add("source", "public, enterprise or personal")
	}
	if !enumGrade[d.Grade] {
		p.Add("grade", "core, important or general (GB/T 43697-2024)")
	}
	switch {
	case d.Grade == "general" && (d.Sublevel < 1 || d.Sublevel > 4):
		p.Add("sublevel", "general data has a sub-level from 1 to 4")
	case d.Grade != "general" && d.Sublevel != 0:
		p.Add("sublevel", "only general data has a sub-level")
	}
	if d.ImportantNotified && d.Grade != "important" {
		p.Add("important_notified", "only important data is notified as such")
	}
	if d.PISubjects < 0 {
		p.Add("pi_subjects", "not negative")
	}
	if d.SensitivePISubjects < 0 {
		p.Add("sensitive_pi_subjects", "not negative")
	}
	if d.SensitivePISubjects > d.PISubjects {
		p.Add("sensitive_pi_subjects", "sensitive PI subjects are counted among the PI subjects")
	}
	if !registry.IsCountry(d.OriginJurisdiction) {
		p.Add("origin_jurisdiction", "an ISO 3166-1 alpha-2 country code")
	}
	if !enumMechanism[d.ExportMechanism] {
		p.Add("export_mechanism", "security_assessment, standard_contract, certification, exempt or negative_list")
	}
	for i, a := range d.Attachments {
		at := fmt.Sprintf("attachments[%d]", i)
		if !enumAttach[a.Kind] {
			p.Add(at+".kind", "compliance_report, product_description or quality_report")
		}
		if !sha256Hex.MatchString(a.SHA256) {
			p.Add(at+".sha256", "64 lower-case hex digits")
		}
	}
}

// readyForReview checks what submission needs beyond a valid draft (R20 and a
// listing's mandatory content).
func (d *Details) readyForReview(p *dataport.Problems) {
	// A harvested product carries the languages its source has (the platform's
	// English, say); a translation can follow as a revision.
	if (d.Title.Zh == "" || d.Title.En == "") && d.Harvested == nil {
		p.Add("title", "a listing is shown in Chinese and English: give both titles")
	}
	if d.Summary.Zh == "" && d.Summary.En == "" {
		p.Add("summary", "required for submission")
	}
	if d.Category == "" {
		p.Add("category", "required for submission")
	}
	if len(d.DeliveryModes) == 0 {
		p.Add("delivery_modes", "at least one delivery mode")
	}
	if len(d.PricePlans) == 0 {
		p.Add("price_plans", "at least one price plan")
	}
	// R20: no third-party compliance assessment or no declared use scenario → no
	// listing and no trading.
	if len(d.Scenarios) == 0 {
		p.Add("scenarios", "R20: declare at least one permitted use scenario")
	}
	if !d.hasAttachment("compliance_report") {
		p.Add("attachments", "R20: attach the third-party compliance assessment report")
	}
	if !d.Rights.Holding && !d.Rights.ProcessingUse && !d.Rights.ProductOperation {
		p.Add("rights", "claim at least one of the three rights")
	}
}

func (d *Details) hasAttachment(kind string) bool {
	for _, a := range d.Attachments {
		if a.Kind == kind {
			return true
		}
	}
	return false
}
