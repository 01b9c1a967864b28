// Package demo seeds a small, believable exchange for `dataport demo`: the operator,
// domestic and foreign suppliers, whitelisted domestic agents, buyers, an assessor, a
// regulator, financial institutions and e-commerce merchants.
//
// Seeding is idempotent: a participant already registered (same USCC, or same
// jurisdiction and registration number) is left as it is, so a demo data folder can
// be reused. Later capabilities add their part of the world here.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/registry"
)

// Member is one seeded participant.
type Member struct {
	Participant registry.Participant
	// Whitelist and KYC are applied after registration, as the operator would.
	kyc       registry.KYCStatus
	whitelist *registry.WhitelistEntry
	spec      registry.NewParticipant
}

// World is the seeded exchange.
type World struct {
	Operator registry.Participant
	Members  []registry.Participant
}

// Operator is the demo exchange operator's identity.
func Operator() registry.OperatorIdentity {
	return registry.OperatorIdentity{
		LegalName: dataport.Bilingual{Zh: "演示数据交易所有限公司", En: "Demo Data Exchange Co., Ltd."},
		USCC:      uscc("91310115", "MA1K00001"),
		Contact:   registry.Contact{Name: "Exchange Operations Desk", Email: "ops@exchange.example", Phone: "+86 21 5000 0000"},
	}
}

func members(now time.Time) []Member {
	until := now.AddDate(1, 0, 0).Format(time.DateOnly)
	domestic := func(zh, en, division, org string, roles ...dataport.Role) registry.NewParticipant {
		return registry.NewParticipant{LegalName: dataport.Bilingual{Zh: zh, En: en}, Jurisdiction: "CN",
			Kind: registry.Domestic, USCC: uscc(division, org), Roles: roles}
	}
	foreign := func(en, country, regNo string, roles ...dataport.Role) registry.NewParticipant {
		return registry.NewParticipant{LegalName: dataport.Bilingual{En: en}, Jurisdiction: country,
			Kind: registry.Foreign, RegistrationNumber: regNo, Roles: roles}
	}
	with := func(n registry.NewParticipant, f func(*registry.NewParticipant)) registry.NewParticipant {
		f(&n)
		return n
	}
	return []Member{
		{kyc: registry.KYCVerified, spec: with(domestic("上海星河数据科技有限公司", "Shanghai Xinghe Data Technology Co., Ltd.",
			"91310115", "MA1K2XH01", dataport.RoleSupplier), func(n *registry.NewParticipant) {
			n.FTZ, n.MerchantCategory = "shanghai-lingang", "data services"
			n.Contact = registry.Contact{Name: "Li Na", Email: "bd@xinghe-data.example", Phone: "+86 21 6100 0001"}
		})},
		{kyc: registry.KYCVerified, spec: with(domestic("杭州云栈物流数据有限公司", "Hangzhou Yunzhan Logistics Data Co., Ltd.",
			"91330106", "MA2H7YK02", dataport.RoleSupplier), func(n *registry.NewParticipant) {
			n.MerchantCategory = "logistics data"
		})},
		{kyc: registry.KYCVerified, spec: with(foreign("Nordhav Energy Data AS", "NO", "923 456 781", dataport.RoleSupplier),
			func(n *registry.NewParticipant) {
				n.LegalName.Zh, n.MerchantCategory = "诺德哈夫能源数据公司", "oil and gas data"
				n.Contact = registry.Contact{Name: "Ingrid Solberg", Email: "data@nordhav.example"}
			})},
		{kyc: registry.KYCVerified, spec: with(foreign("Altmark Signals Ltd", "GB", "12873406", dataport.RoleSupplier),
			func(n *registry.NewParticipant) { n.MerchantCategory = "alternative data" })},
		{kyc: registry.KYCVerified, whitelist: &registry.WhitelistEntry{Reference: "MOFCOM-CBDW-2026-0187", ValidUntil: until},
			spec: with(domestic("上海浦江国际数据服务有限公司", "Shanghai Pujiang International Data Services Co., Ltd.",
				"91310101", "MA1G8PJ03", dataport.RoleAgent), func(n *registry.NewParticipant) {
				n.FTZ = "shanghai"
				n.Contact = registry.Contact{Name: "Zhou Wei", Email: "agency@pujiang-data.example"}
			})},
		{kyc: registry.KYCVerified, whitelist: &registry.WhitelistEntry{Reference: "MOFCOM-CBDW-2026-0203", ValidUntil: until},
			spec: with(domestic("上海临港跨境数据经纪有限公司", "Shanghai Lingang Cross-border Data Brokerage Co., Ltd.",
				"91310115", "MA1K9LG04", dataport.RoleAgent, dataport.RoleSupplier), func(n *registry.NewParticipant) { n.FTZ = "shanghai-lingang" })},
		{kyc: registry.KYCVerified, spec: domestic("上海远景私募基金管理有限公司", "Shanghai Yuanjing Private Equity Fund Management Co., Ltd.",
			"91310104", "MA1FJ6YJ5", dataport.RoleBuyer)},
		{kyc: registry.KYCVerified, spec: with(domestic("华东证券股份有限公司", "Huadong Securities Co., Ltd.",
			"91310000", "132200821", dataport.RoleBuyer), func(n *registry.NewParticipant) { n.CIIO = true })},
		{kyc: registry.KYCPending, spec: domestic("苏州新锐量化投资有限公司", "Suzhou Xinrui Quantitative Investment Co., Ltd.",
			"91320505", "MA27QX1R6", dataport.RoleBuyer)},
		{kyc: registry.KYCVerified, spec: domestic("上海明理律师事务所", "Shanghai Mingli Law Firm",
			"31310000", "425012347", dataport.RoleAssessor)},
		{kyc: registry.KYCVerified, spec: domestic("上海市数据监管局（演示）", "Shanghai Data Regulatory Office (demo)",
			"11310000", "MB2F01238", dataport.RoleRegulator)},
		{kyc: registry.KYCVerified, spec: domestic("浦东商业银行股份有限公司", "Pudong Commercial Bank Co., Ltd.",
			"91310000", "132257510", dataport.RoleFinancialInstitution)},
		{kyc: registry.KYCVerified, spec: domestic("长三角普惠小额贷款有限公司", "Yangtze Delta Inclusive Microcredit Co., Ltd.",
			"91330402", "MA28A1XD9", dataport.RoleFinancialInstitution)},
		{kyc: registry.KYCVerified, spec: with(domestic("嘉兴冻品鲜生食品有限公司", "Jiaxing Frozen Fresh Foods Co., Ltd.",
			"91330402", "MA2JD7F10", dataport.RoleMerchant), func(n *registry.NewParticipant) { n.MerchantCategory = "frozen meat e-commerce" })},
		{kyc: registry.KYCVerified, spec: with(domestic("义乌优选直播电商有限公司", "Yiwu Youxuan Live Commerce Co., Ltd.",
			"91330782", "MA2EYX311", dataport.RoleMerchant), func(n *registry.NewParticipant) { n.MerchantCategory = "live-stream e-commerce" })},
	}
}

// uscc builds a valid unified social credit code from its first 8 characters
// (registration authority, entity type, division) and a 9-character organisation
// code, whose own GB 11714 check character is recomputed.
func uscc(prefix8, org string) string {
	code, err := registry.CompleteUSCC(prefix8 + org[:8] + orgCheck(org[:8]))
	if err != nil {
		panic(fmt.Sprintf("demo USCC %s%s: %v", prefix8, org, err))
	}
	return code
}

// orgCheck computes the GB 11714 organisation code check character.
func orgCheck(first8 string) string {
	weights := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 8; i++ {
		c := first8[i]
		v := int(c - '0')
		if c >= 'A' && c <= 'Z' {
			v = int(c-'A') + 10
		}
		sum += v * weights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return "X"
	case 11:
		return "0"
	default:
		return fmt.Sprint(c)
	}
}

// Seed registers the demo world's participants that are not registered yet, as the
// exchange itself, and returns everyone in it.
func Seed(ctx context.Context, reg *registry.Service, now time.Time) (World, error) {
	actor := dataport.System
	var w World
	all, err := listAll(ctx, reg, actor)
	if err != nil {
		return w, err
	}
	for _, m := range members(now) {
		p, ok := find(all, m.spec)
		if !ok {
			if p, err = reg.CreateParticipant(ctx, actor, m.spec); err != nil {
				return w, fmt.Errorf("seed %s: %w", m.spec.LegalName.En, err)
			}
			if m.kyc != registry.KYCPending {
				if p, err = reg.ReviewKYC(ctx, actor, p.ID, registry.KYCReview{Status: m.kyc, Note: "demo: documents checked"}); err != nil {
					return w, err
				}
			}
			if m.whitelist != nil {
				if p, err = reg.SetWhitelist(ctx, actor, p.ID, *m.whitelist); err != nil {
					return w, err
				}
			}
		}
		w.Members = append(w.Members, p)
	}
	for _, p := range all {
		if p.Has(dataport.RoleOperator) {
			w.Operator = p
		}
	}
	return w, nil
}

func listAll(ctx context.Context, reg *registry.Service, actor dataport.Actor) ([]registry.Participant, error) {
	var all []registry.Participant
	after := ""
	for {
		page, next, err := reg.ListParticipants(ctx, actor, registry.ListFilter{After: after, Limit: 500})
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		after = next
	}
}

func find(all []registry.Participant, n registry.NewParticipant) (registry.Participant, bool) {
	for _, p := range all {
		if (n.USCC != "" && p.USCC == n.USCC) ||
			(n.RegistrationNumber != "" && p.Jurisdiction == n.Jurisdiction && p.RegistrationNumber == n.RegistrationNumber) {
			return p, true
		}
	}
	return registry.Participant{}, false
}

// KeyHolder is the participant the demo prints a key for, for one role.
type KeyHolder struct {
	Role        dataport.Role
	Participant registry.Participant
}

// KeyHolders picks one verified, active participant per role, in the order of
// dataport.Roles, for the demo to print a key for each.
func (w World) KeyHolders() []KeyHolder {
	var out []KeyHolder
	everyone := append([]registry.Participant{w.Operator}, w.Members...)
	for _, role := range dataport.Roles {
		for _, p := range everyone {
			if p.Has(role) && p.Status == registry.Active && (p.KYC.Status == registry.KYCVerified || role == dataport.RoleOperator) {
				out = append(out, KeyHolder{Role: role, Participant: p})
				break
			}
		}
	}
	return out
}
