package dsp

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
)

// The catalog as DSP datasets (DSP 2025-1, "Catalog Protocol", "Message Types":
// Catalog, Dataset; the DCAT and ODRL vocabulary mapping of the protocol's
// context): each listed product is a Dataset whose @id is its IRI, with one
// ODRL Offer per price plan of its listed revision and one Distribution per
// delivery mode. The identifiers are stable (doc.go, "Identifiers").

// dpNS is dataport's own vocabulary, the one the DCAT export uses (catalog.DCATContext's
// "dp"). The protocol's "@context" is an array of context URLs (common/context-schema.json),
// so dataport's terms are written as full IRIs, and DCAT's and ODRL's with the prefixes the
// DSP context defines (dct:, dcat:, odrl:, xsd:).
var dpNS = catalog.DCATContext["dp"].(string)

const (
	productPrefix = "urn:dataport:product:"
	offerPrefix   = "urn:dataport:offer:"
)

// ProductIRI is the @id of a listed product's dataset: "urn:dataport:product:<product id>".
func ProductIRI(productID string) string { return productPrefix + productID }

// ProductOf returns the product id a dataset id names: the IRI ProductIRI makes,
// or the bare product id (what a connector may put in the dataset path).
func ProductOf(datasetID string) string { return strings.TrimPrefix(datasetID, productPrefix) }

// OfferID is the @id of the offer of a product's price plan:
// "urn:dataport:offer:<product id>:<revision>:<plan>", with the listed revision the
// offer was made from and the plan's index in that revision's price_plans (from 0,
// trade.NewDeal's Plan). A revision's details never change, so the id names the same
// terms for as long as it resolves; once another revision is listed, an offer of the
// former one is stale and a contract request naming it is refused (the consumer asks
// for the dataset again).
func OfferID(productID string, revision int64, plan int) string {
	return fmt.Sprintf("%s%s:%d:%d", offerPrefix, productID, revision, plan)
}

// ParseOfferID reads an id OfferID made.
func ParseOfferID(id string) (productID string, revision int64, plan int, err error) {
	const op = "dsp.ParseOfferID"
	bad := dataport.Errorf(op, dataport.KindInvalid, "%q is not an offer of this catalog (urn:dataport:offer:<product>:<revision>:<plan>)", id)
	rest, ok := strings.CutPrefix(id, offerPrefix)
	if !ok {
		return "", 0, 0, bad
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 || parts[0] == "" {
		return "", 0, 0, bad
	}
	rev, err1 := strconv.ParseInt(parts[1], 10, 64)
	p, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || rev < 1 || p < 0 || strconv.Itoa(p) != parts[2] || strconv.FormatInt(rev, 10) != parts[1] {
		return "", 0, 0, bad
	}
	return parts[0], rev, p, nil
}

// FormatPull is the distribution format of a file delivery: the consumer pulls the
// files over HTTP from the data address the transfer start message carries, the
// format name connectors commonly use for it.
const FormatPull = "HttpData-PULL"

// FormatOf is the distribution format (dct:format, what a transfer request names) of
// a delivery mode: FormatPull for "file", "dataport-<mode>" for the others (api,
// privacy_computing, sandbox, model_output), which only dataport serves.
func FormatOf(mode string) string {
	if mode == "file" {
		return FormatPull
	}
	return "dataport-" + mode
}

// DeliveryModeOf is the delivery mode of a format FormatOf made.
func DeliveryModeOf(format string) (string, bool) {
	if format == FormatPull {
		return "file", true
	}
	mode, ok := strings.CutPrefix(format, "dataport-")
	return mode, ok && mode != "" && mode != "file"
}

// DatasetOf is a listed product as a DSP dataset: one offer per price plan of its
// listed revision (OfferOf) and one distribution per delivery mode, served by
// service (referred to by its @id when ref is set, as entries of a catalog that
// lists the service do; inline otherwise, as a dataset sent alone is). The DCAT
// properties of the export (title, description, keywords, publisher, registration
// number, listing time, origin) travel as extra properties. ok is false for a
// product without a price plan: there is nothing to offer (the listing workflow
// requires one, so a listed product has one).
func DatasetOf(p *catalog.Product, service DataService, ref bool) (Dataset, bool) {
	d := p.Details
	if len(d.PricePlans) == 0 || len(d.DeliveryModes) == 0 {
		return Dataset{}, false
	}
	ds := Dataset{ID: ProductIRI(p.ID)}
	for i := range d.PricePlans {
		ds.HasPolicy = append(ds.HasPolicy, OfferOf(p, i))
	}
	for _, m := range d.DeliveryModes {
		dist := Distribution{Format: FormatOf(m), Extra: Extra{dpNS + "deliveryMode": m}}
		if ref {
			dist.AccessService = AccessService{Ref: service.ID}
		} else {
			s := service
			dist.AccessService = AccessService{Service: &s}
		}
		ds.Distribution = append(ds.Distribution, dist)
	}
	ds.Extra = Extra{
		"dct:identifier":       p.RegistrationNumber,
		"dct:title":            texts(d.Title),
		"dct:description":      texts(d.Summary),
		"dct:publisher":        map[string]any{"@id": ParticipantIRI(p.SupplierID)},
		"dct:issued":           map[string]any{"@value": p.RegisteredAt.UTC().Format("2006-01-02T15:04:05Z"), "@type": "xsd:dateTime"},
		"dct:spatial":          d.OriginJurisdiction,
		"dcat:theme":           d.Category,
		dpNS + "type":          d.Type,
		dpNS + "grade":         d.Grade,
		dpNS + "revision":      p.ListedRevision,
		dpNS + "detailsSHA256": p.DetailsSHA256,
		dpNS + "useScenarios":  append([]string{}, d.Scenarios...),
		dpNS + "deliveryModes": append([]string{}, d.DeliveryModes...),
	}
	if len(d.Tags) > 0 {
		ds.Extra["dcat:keyword"] = append([]string{}, d.Tags...)
	}
	if p.AgentID != "" {
		ds.Extra[dpNS+"agent"] = map[string]any{"@id": ParticipantIRI(p.AgentID)}
	}
	return ds, true
}

// ParticipantIRI is a registered participant's IRI, as the DCAT export and the
// contracts name it: "urn:dataport:participant:<participant id>".
func ParticipantIRI(participantID string) string { return "urn:dataport:participant:" + participantID }

// OfferOf is the ODRL offer of a listed product's price plan i (DSP 2025-1,
// negotiation/contract-schema.json, "Offer": an @id, no target, a permission):
//
//   - permission "use", constrained to the product's declared use scenarios
//     (odrl:purpose isAnyOf, as the DCAT export writes it) and, for a subscription,
//     to its period (odrl:elapsedTime lteq P1M, P3M or P1Y);
//   - the permission's duty "odrl:compensate": odrl:payAmount eq the plan's price as
//     an xsd:decimal in the currency's major unit, odrl:unit the currency (QUDT's
//     currency vocabulary); the exact price in minor units, as dataport keeps money,
//     is the offer's dp:price;
//   - the plan's kind, period and name, and the product's usage policy text
//     (dct:rights), as extra properties.
func OfferOf(p *catalog.Product, i int) Policy {
	d := p.Details
	plan := d.PricePlans[i]
	perm := Rule{Action: "use"}
	if len(d.Scenarios) > 0 {
		scenarios := make([]any, len(d.Scenarios))
		for j, s := range d.Scenarios {
			scenarios[j] = s
		}
		perm.Constraint = append(perm.Constraint, Constraint{LeftOperand: "odrl:purpose", Operator: "isAnyOf", RightOperand: scenarios})
	}
	if dur, ok := periods[plan.Period]; ok && plan.Kind == "subscription" {
		perm.Constraint = append(perm.Constraint, Constraint{LeftOperand: "odrl:elapsedTime", Operator: "lteq",
			RightOperand: map[string]any{"@value": dur, "@type": "xsd:duration"}})
	}
	perm.Duty = []Rule{{Action: "odrl:compensate", Constraint: []Constraint{{
		LeftOperand: "odrl:payAmount", Operator: "eq",
		RightOperand: map[string]any{"@value": decimal(plan.Price), "@type": "xsd:decimal"},
		Extra:        Extra{"odrl:unit": map[string]any{"@id": "http://qudt.org/vocab/currency/" + plan.Price.Currency}},
	}}}}
	offer := Policy{ID: OfferID(p.ID, p.ListedRevision, i), Type: TypeOffer, Permission: []Rule{perm},
		Extra: Extra{
			dpNS + "planKind": plan.Kind,
			dpNS + "plan":     i,
			dpNS + "price":    map[string]any{"amount": plan.Price.Amount, "currency": plan.Price.Currency},
		}}
	if plan.Period != "" {
		offer.Extra[dpNS+"period"] = plan.Period
	}
	if plan.Name != "" {
		offer.Extra["dct:title"] = plan.Name
	}
	if d.UsagePolicy != "" {
		offer.Extra["dct:rights"] = d.UsagePolicy
	}
	return offer
}

// periods are a subscription's periods as xsd:duration values.
var periods = map[string]string{"month": "P1M", "quarter": "P3M", "year": "P1Y"}

// minorDigits are the ISO 4217 currencies whose minor unit is not a hundredth
// (ISO 4217, "List One", the minor unit column); every other currency has two.
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0, "RWF": 0,
	"UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// decimal writes an amount of minor units in the currency's major unit, exactly:
// 500000 CNY is "5000.00", 1200 JPY "1200", 1500 KWD "1.500".
func decimal(m dataport.Money) string {
	digits, ok := minorDigits[m.Currency]
	if !ok {
		digits = 2
	}
	neg, n := m.Amount < 0, m.Amount
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// texts renders a bilingual text as language-tagged JSON-LD values.
func texts(b dataport.Bilingual) []any {
	out := []any{}
	if b.Zh != "" {
		out = append(out, map[string]any{"@value": b.Zh, "@language": "zh"})
	}
	if b.En != "" {
		out = append(out, map[string]any{"@value": b.En, "@language": "en"})
	}
	return out
}
