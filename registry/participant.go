// Package registry keeps the exchange's participants (数商): organisations with
// their roles, KYC, cross-border agent whitelist entry, suspension (叫停), API keys
// and signing keys. Every change is filed in the same transaction.
//
// Other capabilities ask the registry one question before they let a participant
// act — CheckActive — so that a suspension stops listings, deals and downloads at
// once, everywhere.
package registry

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dataport/dataport"
)

// Kind says whether a participant is a Chinese (domestic) or a foreign entity.
type Kind string

const (
	Domestic Kind = "domestic"
	Foreign  Kind = "foreign"
)

// Status is active, or suspended by the operator.
type Status string

const (
	Active    Status = "active"
	Suspended Status = "suspended"
)

// KYCStatus is the state of the operator's know-your-customer review.
type KYCStatus string

const (
	KYCPending  KYCStatus = "pending"
	KYCVerified KYCStatus = "verified"
	KYCRejected KYCStatus = "rejected"
)

// Participant is an organisation on the exchange.
type Participant struct {
	ID                 string             `json:"id"`
	LegalName          dataport.Bilingual `json:"legal_name"`
	Jurisdiction       string             `json:"jurisdiction" doc:"ISO 3166-1 alpha-2"`
	Kind               Kind               `json:"kind" enum:"domestic,foreign"`
	USCC               string             `json:"uscc,omitempty" doc:"unified social credit code (domestic entities)"`
	RegistrationNumber string             `json:"registration_number,omitempty" doc:"registration number in its jurisdiction (foreign entities)"`
	MerchantCategory   string             `json:"merchant_category,omitempty"`
	Roles              []dataport.Role    `json:"roles"`
	CIIO               bool               `json:"ciio" doc:"critical information infrastructure operator"`
	FTZ                string             `json:"ftz,omitempty" doc:"free trade zone of registration, e.g. shanghai"`
	KYC                KYC                `json:"kyc"`
	Whitelist          *WhitelistEntry    `json:"whitelist,omitempty" doc:"cross-border agent whitelist entry"`
	Status             Status             `json:"status" enum:"active,suspended"`
	Suspension         *Suspension        `json:"suspension,omitempty"`
	Contact            Contact            `json:"contact"`
	CreatedAt          time.Time          `json:"created_at"`
	UpdatedAt          time.Time          `json:"updated_at"`
	Version            int64              `json:"version" doc:"increases with every change; send it back to update only the version you read"`
}

// KYC is the outcome of the operator's identity review.
type KYC struct {
	Status     KYCStatus `json:"status" enum:"pending,verified,rejected"`
	ReviewedBy string    `json:"reviewed_by,omitempty"`
	ReviewedAt time.Time `json:"reviewed_at,omitzero"`
	Note       string    `json:"note,omitempty"`
}

// WhitelistEntry is a domestic agent's entry on the cross-border data whitelist
// (跨境數據白名單).
type WhitelistEntry struct {
	Reference  string `json:"reference" minLength:"1" maxLength:"100"`
	ValidUntil string `json:"valid_until" format:"date" doc:"last day the entry is in force (YYYY-MM-DD)"`
}

// Suspension records who stopped a participant, when and why.
type Suspension struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// Contact is who to reach at a participant. It is personal data: filings carry only
// its hash.
type Contact struct {
	Name  string `json:"name,omitempty" maxLength:"200"`
	Email string `json:"email,omitempty" maxLength:"254"`
	Phone string `json:"phone,omitempty" maxLength:"40"`
}

// Has reports whether p holds role.
func (p Participant) Has(role dataport.Role) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Whitelisted reports whether p's whitelist entry is in force on the day of now
// (dates are China Standard Time, where the whitelist is kept).
func (p Participant) Whitelisted(now time.Time) bool {
	if p.Whitelist == nil {
		return false
	}
	return now.In(chinaTime).Format(time.DateOnly) <= p.Whitelist.ValidUntil
}

var chinaTime = dataport.China

// NewParticipant is what the operator submits to register an organisation.
type NewParticipant struct {
	LegalName          dataport.Bilingual `json:"legal_name"`
	Jurisdiction       string             `json:"jurisdiction" pattern:"^[A-Z]{2}$" patternDescription:"ISO 3166-1 alpha-2" doc:"ISO 3166-1 alpha-2 country code, e.g. CN, NO, GB"`
	Kind               Kind               `json:"kind" enum:"domestic,foreign"`
	USCC               string             `json:"uscc,omitempty" doc:"required for domestic entities; 18 characters with its GB 32100-2015 check character"`
	RegistrationNumber string             `json:"registration_number,omitempty" doc:"required for foreign entities"`
	MerchantCategory   string             `json:"merchant_category,omitempty" maxLength:"64"`
	Roles              []dataport.Role    `json:"roles" minItems:"1" enum:"supplier,agent,buyer,assessor,financial_institution,merchant,regulator"`
	CIIO               bool               `json:"ciio,omitempty"`
	FTZ                string             `json:"ftz,omitempty" maxLength:"64"`
	Contact            Contact            `json:"contact,omitempty"`
}

// ParticipantUpdate changes some fields of a participant; nil fields stay as they are.
// The operator may change any of them; a participant only its own contact.
type ParticipantUpdate struct {
	LegalName        *dataport.Bilingual `json:"legal_name,omitempty"`
	USCC             *string             `json:"uscc,omitempty"`
	MerchantCategory *string             `json:"merchant_category,omitempty" maxLength:"64"`
	Roles            []dataport.Role     `json:"roles,omitempty" enum:"operator,supplier,agent,buyer,assessor,financial_institution,merchant,regulator"`
	CIIO             *bool               `json:"ciio,omitempty"`
	FTZ              *string             `json:"ftz,omitempty" maxLength:"64"`
	Contact          *Contact            `json:"contact,omitempty"`
	// Version, when set, makes the update apply only to that version (409 otherwise).
	Version int64 `json:"version,omitempty"`
}

var (
	ftzPattern   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,63}$`)
	regNoPattern = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ./()-]{0,63}$`)
	phonePattern = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{4,38}$`)
	alpha2       = regexp.MustCompile(`^[A-Z]{2}$`)
)

// normalise trims what people paste around identifiers.
func (n *NewParticipant) normalise() {
	n.LegalName.Zh = strings.TrimSpace(n.LegalName.Zh)
	n.LegalName.En = strings.TrimSpace(n.LegalName.En)
	n.Jurisdiction = strings.TrimSpace(n.Jurisdiction)
	n.USCC = strings.TrimSpace(n.USCC)
	n.RegistrationNumber = strings.TrimSpace(n.RegistrationNumber)
	n.MerchantCategory = strings.TrimSpace(n.MerchantCategory)
	n.FTZ = strings.TrimSpace(n.FTZ)
	n.Contact.normalise()
}

func (c *Contact) normalise() {
	c.Name = strings.TrimSpace(c.Name)
	c.Email = strings.TrimSpace(c.Email)
	c.Phone = strings.TrimSpace(c.Phone)
}

// validate checks a participant record as it would be stored.
func validate(p *Participant, problems *dataport.Problems) {
	validateName(p.Kind, p.LegalName, problems)
	switch {
	case p.Jurisdiction == "":
		problems.Add("jurisdiction", "required: an ISO 3166-1 alpha-2 country code")
	case !alpha2.MatchString(p.Jurisdiction) || !isCountry(p.Jurisdiction):
		problems.Add("jurisdiction", "%q is not an ISO 3166-1 alpha-2 country code", p.Jurisdiction)
	}
	switch p.Kind {
	case Domestic:
		if p.Jurisdiction != "" && p.Jurisdiction != "CN" {
			problems.Add("jurisdiction", "a domestic entity's jurisdiction is CN")
		}
		// The exchange operator's own code may be completed after the first start.
		if p.USCC == "" && !p.Has(dataport.RoleOperator) {
			problems.Add("uscc", "required for a domestic entity")
		} else if p.USCC != "" {
			if err := ValidateUSCC(p.USCC); err != nil {
				problems.Add("uscc", "%s", err)
			}
		}
		if p.RegistrationNumber != "" {
			problems.Add("registration_number", "a domestic entity is identified by its unified social credit code")
		}
	case Foreign:
		if p.Jurisdiction == "CN" {
			problems.Add("jurisdiction", "a foreign entity's jurisdiction is not CN")
		}
		if p.USCC != "" {
			problems.Add("uscc", "a foreign entity has no unified social credit code; give registration_number")
		}
		if p.RegistrationNumber == "" {
			problems.Add("registration_number", "required for a foreign entity")
		} else if !regNoPattern.MatchString(p.RegistrationNumber) {
			problems.Add("registration_number", "letters, digits, spaces and . / ( ) - only, at most 64")
		}
		if p.CIIO {
			problems.Add("ciio", "only a domestic entity can be a critical information infrastructure operator")
		}
		if p.FTZ != "" {
			problems.Add("ftz", "only a domestic entity registers in a free trade zone")
		}
		if p.Has(dataport.RoleAgent) {
			problems.Add("roles", "an agent for foreign suppliers must be a domestic entity")
		}
	case "":
		problems.Add("kind", "required: domestic or foreign")
	default:
		problems.Add("kind", "%q is not domestic or foreign", p.Kind)
	}
	validateRoles(p.Roles, problems)
	if utf8.RuneCountInString(p.MerchantCategory) > 64 {
		problems.Add("merchant_category", "at most 64 characters")
	}
	if p.FTZ != "" && !ftzPattern.MatchString(p.FTZ) {
		problems.Add("ftz", "a lower-case zone name such as shanghai or shanghai-lingang")
	}
	validateContact(p.Contact, problems)
}

func validateName(kind Kind, n dataport.Bilingual, problems *dataport.Problems) {
	// A domestic entity's legal name is Chinese; a foreign one's is in its own
	// language, given here in English. The other language helps but is optional.
	if kind == Domestic && n.Zh == "" {
		problems.Add("legal_name.zh", "required for a domestic entity")
	}
	if kind == Foreign && n.En == "" {
		problems.Add("legal_name.en", "required for a foreign entity")
	}
	if n.Zh == "" && n.En == "" && kind != Domestic && kind != Foreign {
		problems.Add("legal_name", "required")
	}
	if utf8.RuneCountInString(n.Zh) > 200 {
		problems.Add("legal_name.zh", "at most 200 characters")
	}
	if utf8.RuneCountInString(n.En) > 200 {
		problems.Add("legal_name.en", "at most 200 characters")
	}
}

func validateRoles(roles []dataport.Role, problems *dataport.Problems) {
	if len(roles) == 0 {
		problems.Add("roles", "at least one role")
	}
	seen := map[dataport.Role]bool{}
	for i, r := range roles {
		if !r.Valid() {
			problems.Add("roles", "role %d: %q is not a role of the exchange", i+1, r)
		} else if seen[r] {
			problems.Add("roles", "role %q given twice", r)
		}
		seen[r] = true
	}
}

func validateContact(c Contact, problems *dataport.Problems) {
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email {
			problems.Add("contact.email", "not an e-mail address")
		}
	}
	if c.Phone != "" && !phonePattern.MatchString(c.Phone) {
		problems.Add("contact.phone", "digits, spaces, ( ) and -, with an optional leading +")
	}
	if utf8.RuneCountInString(c.Name) > 200 {
		problems.Add("contact.name", "at most 200 characters")
	}
}
