package compliance

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
)

// Approval is an approval on file (CROSS-BORDER-RULES, "Approvals the engine tracks",
// and the R13 evidence). Dates are YYYY-MM-DD; ValidUntil is the last valid day.
type Approval struct {
	ID             string   `json:"id,omitempty"`
	Kind           string   `json:"kind" enum:"security_assessment,standard_contract,pi_certification,ftz_post_export_report,pipia_report,notice_declaration,consent_declaration"`
	Reference      string   `json:"reference" maxLength:"200" doc:"the CAC approval number, filing number, certificate number or receipt number"`
	ExporterID     string   `json:"exporter_id,omitempty"`
	Recipients     []string `json:"recipients,omitempty" maxItems:"100" doc:"participant ids or ISO 3166 codes it covers; any when empty"`
	Categories     []string `json:"categories,omitempty" maxItems:"100" doc:"data categories it covers; any when empty"`
	IssuedOn       Date     `json:"issued_on" format:"date" doc:"approved, certified, signed or reported on"`
	EffectiveOn    Date     `json:"effective_on,omitempty" format:"date" doc:"standard contracts: when the contract took effect"`
	FiledOn        Date     `json:"filed_on,omitempty" format:"date" doc:"standard contracts: when the filing was accepted"`
	ValidUntil     Date     `json:"valid_until,omitempty" format:"date" doc:"the last valid day, when the approval states one (a contract's term)"`
	Extended       bool     `json:"extended,omitempty" doc:"security assessments: the extension was granted"`
	Revoked        bool     `json:"revoked,omitempty"`
	EvidenceSHA256 string   `json:"evidence_sha256,omitempty" pattern:"^[0-9a-f]{64}$" doc:"the evidence document, an uploaded attachment"`
}

// Result is an assessment's outcome and why.
type Result struct {
	Outcome      string              `json:"outcome" enum:"allow,require,deny"`
	PackVersion  string              `json:"pack_version"`
	Fired        []Fired             `json:"fired" doc:"the rules that fired, in the pack's order"`
	Requirements []RequirementResult `json:"requirements"`
	Reasons      struct {
		En []string `json:"en"`
		Zh []string `json:"zh"`
	} `json:"reasons"`
}

// Fired is a rule that fired.
type Fired struct {
	Rule   string    `json:"rule"`
	Effect string    `json:"effect" enum:"deny,require,exempt,derive,invalidate,note"`
	Reason Bilingual `json:"reason"`
	Source string    `json:"source"`
	// Approval names the approval an invalidating rule set aside.
	Approval string `json:"approval,omitempty"`
}

// RequirementResult is a requirement and whether it is met.
type RequirementResult struct {
	ID          string         `json:"id"`
	Name        Bilingual      `json:"name"`
	Rules       []string       `json:"rules" doc:"the rules that require it"`
	Satisfied   bool           `json:"satisfied"`
	SatisfiedBy []ApprovalUsed `json:"satisfied_by,omitempty"`
}

// ApprovalUsed names an approval that satisfies a requirement.
type ApprovalUsed struct {
	ID        string `json:"id,omitempty"`
	Kind      string `json:"kind"`
	Reference string `json:"reference"`
}

// FiredIDs lists the ids of the rules that fired.
func (r *Result) FiredIDs() []string {
	var out []string
	for _, f := range r.Fired {
		if !slices.Contains(out, f.Rule) {
			out = append(out, f.Rule)
		}
	}
	return out
}

// RequirementIDs lists the requirements' ids.
func (r *Result) RequirementIDs() []string {
	var out []string
	for _, q := range r.Requirements {
		out = append(out, q.ID)
	}
	return out
}

// activation resolves the facts' names without building a map per assessment.
type activation struct {
	f        *Facts
	pack     any // the pack's data, adapted to CEL once per pack
	today    types.Timestamp
	approval *ApprovalFacts
	derived  map[string]any
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "context":
		return a.f.Context, true
	case "direction":
		return a.f.Direction, true
	case "exporter":
		return &a.f.Exporter, true
	case "recipient":
		return &a.f.Recipient, true
	case "data":
		return &a.f.Data, true
	case "pi_subjects_ytd":
		return a.f.PISubjectsYTD, true
	case "sensitive_pi_subjects_ytd":
		return a.f.SensitivePISubjectsYTD, true
	case "purpose":
		return a.f.Purpose, true
	case "delivery_mode":
		return a.f.DeliveryMode, true
	case "supplier":
		return &a.f.Supplier, true
	case "agent":
		return &a.f.Agent, true
	case "product":
		return &a.f.Product, true
	case "pack":
		return a.pack, true
	case "today":
		return a.today, true
	case "approval":
		if a.approval == nil {
			return nil, false
		}
		return a.approval, true
	}
	v, ok := a.derived[name]
	return v, ok
}

func (a *activation) Parent() interpreter.Activation { return nil }

func evalBool(prg cel.Program, act *activation) (bool, error) {
	out, _, err := prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("is %v, not a bool", out.Type())
	}
	return bool(b), nil
}

// Evaluate assesses facts against the pack, with the approvals on file for the
// exporter, on the day today (a date in China time).
//
// Outcome (CROSS-BORDER-RULES, "Outcome"): deny if any deny rule fires; otherwise
// require while any requirement is unmet; otherwise allow. Exemptions remove the
// requirements of the rules they name, and the pack refuses exemptions of
// requirements it marks as not exemptible (R1, R13, R15, R21, R22).
//
// Facts without a context are a what-if, and Evaluate records that in f.
func (p *Pack) Evaluate(f *Facts, approvals []Approval, today time.Time) (*Result, error) {
	if f.Context == "" {
		f.Context = "what_if"
	}
	act := &activation{f: f, pack: p.packVal, today: types.Timestamp{Time: day(today)}, derived: map[string]any{}}
	res := &Result{PackVersion: p.Version, Fired: []Fired{}, Requirements: []RequirementResult{}}
	fire := func(r *rule, effect, approval string) {
		res.Fired = append(res.Fired, Fired{Rule: r.ID, Effect: effect, Reason: r.Reason, Source: r.Source, Approval: approval})
	}
	for _, r := range p.derives {
		for _, d := range r.derive {
			out, _, err := d.prg.Eval(act)
			if err != nil {
				return nil, fmt.Errorf("rule %s: derive %s: %w", r.ID, d.Name, err)
			}
			act.derived[d.Name] = out
		}
		if r.when != nil && !slices.Contains(p.rules, r) {
			on, err := evalBool(r.when, act)
			if err != nil {
				return nil, fmt.Errorf("rule %s: when: %w", r.ID, err)
			}
			if on {
				fire(r, "derive", "")
			}
		}
	}
	denied := false
	required := map[string][]string{} // requirement → rules
	var order []string
	exempted := map[string]bool{}
	for _, r := range p.rules {
		on := true
		if r.when != nil {
			var err error
			if on, err = evalBool(r.when, act); err != nil {
				return nil, fmt.Errorf("rule %s: when: %w", r.ID, err)
			}
		}
		if !on {
			continue
		}
		reqs := slices.Clone(r.Requires)
		if r.requiresX != nil {
			out, _, err := r.requiresX.Eval(act)
			if err != nil {
				return nil, fmt.Errorf("rule %s: requires_expr: %w", r.ID, err)
			}
			list, err := out.ConvertToNative(reflectStrings)
			if err != nil {
				return nil, fmt.Errorf("rule %s: requires_expr: %w", r.ID, err)
			}
			for _, id := range list.([]string) {
				if p.requirements[id] == nil {
					return nil, fmt.Errorf("rule %s: requires_expr names no requirement %q", r.ID, id)
				}
				reqs = append(reqs, id)
			}
		}
		effect := "note"
		switch {
		case r.Deny:
			effect, denied = "deny", true
		case len(reqs) > 0:
			effect = "require"
		case len(r.Exempts) > 0:
			effect = "exempt"
		}
		fire(r, effect, "")
		for _, id := range reqs {
			if _, ok := required[id]; !ok {
				order = append(order, id)
			}
			if !slices.Contains(required[id], r.ID) {
				required[id] = append(required[id], r.ID)
			}
		}
		for _, ex := range r.Exempts {
			exempted[ex] = true
		}
	}
	// The approvals that can satisfy anything, once: invalidating rules fire here.
	var usable []Approval
	if len(order) > 0 && len(approvals) > 0 {
		var err error
		if usable, err = p.usable(act, f, approvals, fire); err != nil {
			return nil, err
		}
	}
	// Exemptions: a requirement goes when every rule requiring it is exempted.
	for _, id := range order {
		rules := required[id]
		kept := rules[:0:0]
		for _, r := range rules {
			if !exempted[r] || !p.requirements[id].Exemptible {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 {
			continue
		}
		req := p.requirements[id]
		rr := RequirementResult{ID: id, Name: req.Name, Rules: kept}
		if req.satisfiedIf != nil {
			ok, err := evalBool(req.satisfiedIf, act)
			if err != nil {
				return nil, fmt.Errorf("requirement %s: satisfied_if: %w", id, err)
			}
			rr.Satisfied = ok
		} else {
			for _, set := range req.AnyOf {
				var used []ApprovalUsed
				for _, kind := range set {
					if i := slices.IndexFunc(usable, func(a Approval) bool { return a.Kind == kind }); i >= 0 {
						used = append(used, ApprovalUsed{ID: usable[i].ID, Kind: kind, Reference: usable[i].Reference})
					}
				}
				if len(used) == len(set) {
					rr.Satisfied, rr.SatisfiedBy = true, used
					break
				}
			}
		}
		res.Requirements = append(res.Requirements, rr)
	}
	switch {
	case denied:
		res.Outcome = "deny"
	case slices.ContainsFunc(res.Requirements, func(r RequirementResult) bool { return !r.Satisfied }):
		res.Outcome = "require"
	default:
		res.Outcome = "allow"
	}
	for _, fr := range res.Fired {
		res.Reasons.En = append(res.Reasons.En, fr.Rule+": "+fr.Reason.En)
		res.Reasons.Zh = append(res.Reasons.Zh, fr.Rule+"："+fr.Reason.Zh)
	}
	return res, nil
}

// usable filters the approvals that can satisfy a requirement of these facts today:
// in force (not revoked, begun, not past its last day), in scope (the exporter, the
// recipient, the data category), and not set aside by an invalidating rule (R16–R18),
// whose firing is reported once per approval.
func (p *Pack) usable(act *activation, f *Facts, approvals []Approval, fire func(*rule, string, string)) ([]Approval, error) {
	today := act.today.Time
	var out []Approval
	for _, a := range approvals {
		issued, err := time.Parse(time.DateOnly, a.IssuedOn)
		if err != nil || a.Revoked || issued.After(today) {
			continue
		}
		if a.ExporterID != "" && f.Exporter.ID != "" && a.ExporterID != f.Exporter.ID {
			continue
		}
		if len(a.Recipients) > 0 && !slices.Contains(a.Recipients, f.Recipient.ID) && !slices.Contains(a.Recipients, f.Recipient.Jurisdiction) {
			continue
		}
		if len(a.Categories) > 0 && !slices.Contains(a.Categories, f.Data.Category) {
			continue
		}
		af := ApprovalFacts{Kind: a.Kind, Reference: a.Reference, IssuedOn: issued, Extended: a.Extended}
		af.EffectiveOn = issued
		if a.EffectiveOn != "" {
			if af.EffectiveOn, err = time.Parse(time.DateOnly, a.EffectiveOn); err != nil {
				continue
			}
		}
		if a.FiledOn != "" {
			if af.FiledOn, err = time.Parse(time.DateOnly, a.FiledOn); err != nil {
				continue
			}
			af.Filed = true
		}
		if a.ValidUntil != "" {
			if af.ValidUntil, err = time.Parse(time.DateOnly, a.ValidUntil); err != nil {
				continue
			}
			af.HasValidUntil = true
			if today.After(af.ValidUntil) {
				continue // expired
			}
		}
		act.approval = &af
		ok := true
		for _, r := range p.invalidators[a.Kind] {
			bad, err := evalBool(r.when, act)
			if err != nil {
				act.approval = nil
				return nil, fmt.Errorf("rule %s: when: %w", r.ID, err)
			}
			if bad {
				ok = false
				fire(r, "invalidate", a.Reference)
			}
		}
		act.approval = nil
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

var reflectStrings = reflect.TypeFor[[]string]()
