package dsp

import (
	"encoding/json"
)

// ODRL policies as DSP 2025-1 writes them (Contract Negotiation Protocol,
// "Message Types"; negotiation/contract-schema.json): an Offer in a catalog's
// dataset (no target), an Offer in a contract request or offer message (with a
// target, the dataset's id), and the Agreement (target, assigner, assignee,
// timestamp). Terms are those of the ODRL profile context the DSP context
// imports (odrl-profile.jsonld).

// Policy types.
const (
	TypeOffer     = "Offer"
	TypeAgreement = "Agreement"
)

// Policy is an ODRL Offer or Agreement. Every policy has an @id (a URI; GUIDs as
// urn:uuid:…) and at least one permission or prohibition.
type Policy struct {
	ID          string   `json:"@id"`
	Type        string   `json:"@type,omitempty"`
	Profile     Profiles `json:"profile,omitzero"`
	Target      string   `json:"target,omitempty"`
	Assigner    string   `json:"assigner,omitempty"`
	Assignee    string   `json:"assignee,omitempty"`
	Timestamp   string   `json:"timestamp,omitempty"` // xsd:dateTime, as written
	Permission  []Rule   `json:"permission,omitzero"`
	Prohibition []Rule   `json:"prohibition,omitzero"`
	Obligation  []Rule   `json:"obligation,omitzero"`
	Extra       Extra    `json:"-"`
}

type plainPolicy Policy

// MarshalJSON writes the policy and its extra properties.
func (p Policy) MarshalJSON() ([]byte, error) {
	x := plainPolicy(p)
	x.Extra = nil
	return marshalWithExtra(x, p.Extra)
}

// UnmarshalJSON reads the policy, keeping properties it does not name in Extra.
func (p *Policy) UnmarshalJSON(data []byte) error {
	var x plainPolicy
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*p = Policy(x)
	return nil
}

// Rule is an ODRL permission, prohibition or duty: an action, constrained.
type Rule struct {
	Action     string       `json:"action"`
	Constraint []Constraint `json:"constraint,omitzero"`
	Duty       []Rule       `json:"duty,omitzero"` // a permission's duties
	Extra      Extra        `json:"-"`
}

type plainRule Rule

// MarshalJSON writes the rule and its extra properties.
func (r Rule) MarshalJSON() ([]byte, error) {
	x := plainRule(r)
	x.Extra = nil
	return marshalWithExtra(x, r.Extra)
}

// UnmarshalJSON reads the rule, keeping properties it does not name in Extra.
func (r *Rule) UnmarshalJSON(data []byte) error {
	var x plainRule
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*r = Rule(x)
	return nil
}

// Constraint is an ODRL constraint: atomic (leftOperand, operator, rightOperand)
// or logical (exactly one of and, andSequence, or, xone).
type Constraint struct {
	LeftOperand string `json:"leftOperand,omitempty"`
	Operator    string `json:"operator,omitempty"` // eq, gt, gteq, lt, lteq, neq, isA, hasPart, isPartOf, isAllOf, isAnyOf, isNoneOf, term-lteq
	// RightOperand is a string, an object or an array, as written.
	RightOperand any          `json:"rightOperand,omitempty"`
	And          []Constraint `json:"and,omitzero"`
	AndSequence  []Constraint `json:"andSequence,omitzero"`
	Or           []Constraint `json:"or,omitzero"`
	Xone         []Constraint `json:"xone,omitzero"`
	Extra        Extra        `json:"-"`
}

type plainConstraint Constraint

// MarshalJSON writes the constraint and its extra properties.
func (c Constraint) MarshalJSON() ([]byte, error) {
	x := plainConstraint(c)
	x.Extra = nil
	return marshalWithExtra(x, c.Extra)
}

// UnmarshalJSON reads the constraint, keeping properties it does not name in Extra.
func (c *Constraint) UnmarshalJSON(data []byte) error {
	var x plainConstraint
	extra, err := unmarshalWithExtra(data, &x)
	if err != nil {
		return err
	}
	x.Extra = extra
	*c = Constraint(x)
	return nil
}

// Profiles are a policy's ODRL profiles: written as one IRI when there is one,
// as an array otherwise (the schema allows both).
type Profiles []string

// MarshalJSON writes one profile as a string, several as an array.
func (p Profiles) MarshalJSON() ([]byte, error) {
	if len(p) == 1 {
		return json.Marshal(p[0])
	}
	return json.Marshal([]string(p))
}

// UnmarshalJSON reads a string or an array of strings.
func (p *Profiles) UnmarshalJSON(data []byte) error {
	var one string
	if json.Unmarshal(data, &one) == nil {
		*p = Profiles{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(data, &many); err != nil {
		return err
	}
	*p = many
	return nil
}
