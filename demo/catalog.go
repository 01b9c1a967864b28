package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/catalog"
	"github.com/dataport/dataport/compliance"
	"github.com/dataport/dataport/registry"
)

// The demo catalogue: a few hundred bilingual products across the International
// Zone's categories, listed through the workflow as their suppliers and the operator
// would, some by the domestic agent for foreign suppliers.

type theme struct {
	category string
	subjects [][2]string // Chinese, English
	kind     string
	modes    []string
	price    int64 // fen per month
}

var themes = []theme{
	{"energy", [][2]string{{"原油产量", "crude oil production"}, {"天然气价格", "natural gas prices"}, {"电力负荷", "power load"},
		{"光伏发电量", "solar generation"}, {"油气田钻井活动", "oil and gas drilling activity"}}, "dataset", []string{"file", "api"}, 1_500_000},
	{"shipping", [][2]string{{"集装箱运价指数", "container freight index"}, {"港口吞吐量", "port throughput"}, {"船舶AIS轨迹", "vessel AIS tracks"},
		{"干散货运价", "dry bulk freight rates"}, {"航线准班率", "schedule reliability"}}, "dataset", []string{"api"}, 900_000},
	{"finance", [][2]string{{"小微企业信用评分", "SME credit scores"}, {"债券违约预警", "bond default warnings"}, {"上市公司舆情", "listed company sentiment"},
		{"供应链应收账款", "supply chain receivables"}, {"私募基金业绩", "private fund performance"}}, "model", []string{"api", "model_output"}, 2_000_000},
	{"e-commerce", [][2]string{{"电商销售指数", "e-commerce sales index"}, {"直播带货转化率", "live-stream conversion rates"}, {"商品退货率", "product return rates"},
		{"店铺评分分布", "shop rating distribution"}, {"物流时效", "logistics timeliness"}}, "report", []string{"file"}, 600_000},
	{"climate", [][2]string{{"降水观测", "precipitation observations"}, {"碳排放因子", "carbon emission factors"}, {"海表温度", "sea surface temperature"},
		{"台风路径", "typhoon tracks"}, {"空气质量", "air quality"}}, "dataset", []string{"sandbox"}, 300_000},
	{"health", [][2]string{{"药品销售", "pharmaceutical sales"}, {"医疗器械采购", "medical device procurement"}, {"医院床位供给", "hospital bed supply"},
		{"临床试验登记", "clinical trial registrations"}, {"疫苗接种率", "vaccination rates"}}, "report", []string{"file", "privacy_computing"}, 1_200_000},
}

var regions = [][3]string{ // Chinese, English, origin
	{"中国", "China", "CN"}, {"长三角", "Yangtze River Delta", "CN"}, {"粤港澳大湾区", "Greater Bay Area", "CN"},
	{"北海", "North Sea", "NO"}, {"欧洲", "Europe", "GB"}, {"东南亚", "Southeast Asia", "SG"}, {"全球", "Global", "GB"},
}

var cadences = [][3]string{{"日度", "daily", "daily"}, {"月度", "monthly", "monthly"}}

// Listing is one product of the demo catalogue: its details and who lists it —
// the domestic supplier Supplier (0–2: the demo's three domestic suppliers), or,
// ViaAgent, the foreign supplier Supplier (0–1) through the domestic agent.
type Listing struct {
	Details  catalog.Details
	Supplier int
	ViaAgent bool
}

// Catalog returns the demo catalogue: 210 products over six categories, seven
// regions and two cadences, about half of their combinations. shift turns the
// domestic suppliers' share round (the load test lists copies of the catalogue for
// copies of the demo world, each in its own order).
func Catalog(shift int) []Listing {
	var out []Listing
	for ti, th := range themes {
		for si, subj := range th.subjects {
			for ri, reg := range regions {
				for ci, cad := range cadences {
					if (ti+si+ri+ci)%2 == 1 { // about half of the combinations
						continue
					}
					d := catalog.Details{
						Type:            th.kind,
						Title:           dataport.Bilingual{Zh: reg[0] + cad[0] + subj[0], En: fmt.Sprintf("%s %s %s", reg[1], cad[1], subj[1])},
						Summary:         dataport.Bilingual{Zh: fmt.Sprintf("%s%s数据，%s更新，可用于研究与风控。", reg[0], subj[0], cad[0]), En: fmt.Sprintf("%s data for %s, updated %s, for research and risk management.", subj[1], reg[1], cad[1])},
						Category:        th.category,
						Tags:            []string{th.category, subj[1], reg[1], "数据"},
						Coverage:        reg[1],
						TimeSpan:        catalog.TimeSpan{From: "2019-01-01"},
						UpdateFrequency: cad[2],
						DeliveryModes:   th.modes,
						Scenarios:       []string{"research", "risk management"},
						PricePlans: []catalog.PricePlan{
							{Kind: "subscription", Period: "month", Price: dataport.Money{Amount: th.price * int64(1+ci), Currency: "CNY"}},
							{Kind: "one_off", Price: dataport.Money{Amount: th.price * 10, Currency: "CNY"}},
						},
						Source: "enterprise", Grade: "general", Sublevel: 1 + (si % 2), OriginJurisdiction: reg[2],
						Rights: catalog.Rights{Holding: true, ProcessingUse: true, ProductOperation: true},
					}
					if th.category == "climate" {
						d.Source = "public" // R21: public data is delivered in a sandbox, never raw
					}
					if reg[2] != "CN" && (ri+si)%3 != 0 {
						out = append(out, Listing{Details: d, Supplier: (si + ci) % 2, ViaAgent: true})
					} else {
						out = append(out, Listing{Details: d, Supplier: (ti + si + ri + shift) % 3})
					}
				}
			}
		}
	}
	return out
}

// Categories are the demo catalogue's categories.
func Categories() []string {
	var out []string
	for _, th := range themes {
		out = append(out, th.category)
	}
	return out
}

// SeedCatalog lists the demo catalogue once: when the catalogue already has products
// it does nothing. The foreign suppliers' products come in through the agent under
// certified agency contracts (R22), signed with keys made here.
func SeedCatalog(ctx context.Context, reg *registry.Service, rules *compliance.Service, cat *catalog.Service, w World, now time.Time) (int, error) {
	if res, err := cat.Search(ctx, dataport.System, catalog.SearchQuery{Limit: 1}); err != nil || res.Total > 0 {
		return 0, err
	}
	byName := map[string]registry.Participant{}
	for _, p := range w.Members {
		byName[p.LegalName.En] = p
	}
	domestic := []registry.Participant{byName["Shanghai Xinghe Data Technology Co., Ltd."], byName["Hangzhou Yunzhan Logistics Data Co., Ltd."],
		byName["Shanghai Lingang Cross-border Data Brokerage Co., Ltd."]}
	foreign := []registry.Participant{byName["Nordhav Energy Data AS"], byName["Altmark Signals Ltd"]}
	agent := byName["Shanghai Pujiang International Data Services Co., Ltd."]
	operator := dataport.Actor{ParticipantID: w.Operator.ID, Roles: []dataport.Role{dataport.RoleOperator}}
	if agent.ID != "" {
		categories := Categories()
		for _, f := range foreign {
			if f.ID == "" {
				continue
			}
			if err := certifyAgency(ctx, reg, rules, operator, f, agent, categories, now); err != nil {
				return 0, fmt.Errorf("demo agency contract: %w", err)
			}
		}
	}
	// A few open demands first, so that listings below match them and notify.
	for _, dm := range []struct {
		buyer string
		n     catalog.NewDemand
	}{
		{"Shanghai Yuanjing Private Equity Fund Management Co., Ltd.", catalog.NewDemand{Text: "北海原油产量与钻井活动 North Sea crude oil production",
			Category: "energy", Currency: "CNY", BudgetMax: 20_000_000}},
		{"Huadong Securities Co., Ltd.", catalog.NewDemand{Text: "小微企业信用评分 SME credit scores", Category: "finance",
			Currency: "CNY", BudgetMax: 5_000_000, DeliveryMode: "api", Jurisdictions: []string{"CN"}}},
		{"Huadong Securities Co., Ltd.", catalog.NewDemand{Text: "集装箱运价指数 container freight index", Category: "shipping", Currency: "CNY"}},
	} {
		b := byName[dm.buyer]
		if b.ID == "" {
			continue
		}
		if _, err := cat.PostDemand(ctx, dataport.Actor{ParticipantID: b.ID, Roles: []dataport.Role{dataport.RoleBuyer}}, dm.n); err != nil {
			return 0, fmt.Errorf("demo demand: %w", err)
		}
	}
	n := 0
	for _, l := range Catalog(0) {
		d := l.Details
		var supplier registry.Participant
		actor := dataport.Actor{}
		if l.ViaAgent {
			supplier = foreign[l.Supplier]
			actor = dataport.Actor{ParticipantID: agent.ID, Roles: []dataport.Role{dataport.RoleAgent}}
		} else {
			supplier = domestic[l.Supplier]
			actor = dataport.Actor{ParticipantID: supplier.ID, Roles: []dataport.Role{dataport.RoleSupplier}}
		}
		if supplier.ID == "" || (actor.Has(dataport.RoleAgent) && agent.ID == "") {
			continue
		}
		report, err := cat.UploadAttachment(ctx, actor, catalog.NewAttachment{Name: "compliance-assessment.md", MediaType: "text/markdown; charset=utf-8"},
			strings.NewReader(assessmentReport(d, supplier, n+1)))
		if err != nil {
			return n, fmt.Errorf("demo compliance report: %w", err)
		}
		d.Attachments = []catalog.Attachment{{Kind: "compliance_report", SHA256: report.SHA256, Name: report.Name}}
		p, err := cat.Create(ctx, actor, catalog.NewProduct{SupplierID: supplier.ID, Details: d})
		if err != nil {
			return n, fmt.Errorf("demo product %s: %w", d.Title.En, err)
		}
		if _, err := cat.Submit(ctx, actor, p.ID); err != nil {
			return n, err
		}
		if _, err := cat.StartReview(ctx, operator, p.ID); err != nil {
			return n, err
		}
		if _, err := cat.Approve(ctx, operator, p.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// certifyAgency makes signing keys for the foreign supplier and the agent, has them
// sign an agency contract over every demo category, and certifies it.
func certifyAgency(ctx context.Context, reg *registry.Service, rules *compliance.Service, operator dataport.Actor,
	supplier, agent registry.Participant, categories []string, now time.Time) error {
	keys := map[string]ed25519.PrivateKey{}
	ids := map[string]string{}
	for _, p := range []registry.Participant{supplier, agent} {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		k, err := reg.AddSigningKey(ctx, operator, p.ID, registry.NewSigningKey{Name: "demo contract key", PublicKey: base64.StdEncoding.EncodeToString(pub)})
		if err != nil {
			return err
		}
		keys[p.ID], ids[p.ID] = priv, k.ID
	}
	as := func(p registry.Participant, role dataport.Role) dataport.Actor {
		return dataport.Actor{ParticipantID: p.ID, Roles: []dataport.Role{role}}
	}
	today := now.UTC()
	c, err := rules.ProposeContract(ctx, as(agent, dataport.RoleAgent), compliance.NewAgencyContract{SupplierID: supplier.ID, AgentID: agent.ID,
		Categories: categories, ValidFrom: today.AddDate(0, 0, -1).Format(time.DateOnly), ValidUntil: today.AddDate(2, 0, 0).Format(time.DateOnly),
		Terms: "The agent lists, markets and delivers the supplier's data products in China under the exchange's rules. (demo)"})
	if err != nil {
		return err
	}
	for _, p := range []struct {
		who  registry.Participant
		role dataport.Role
	}{{supplier, dataport.RoleSupplier}, {agent, dataport.RoleAgent}} {
		sig := ed25519.Sign(keys[p.who.ID], []byte(c.Document))
		if _, err := rules.SignContract(ctx, as(p.who, p.role), c.ID, compliance.ContractSignature{KeyID: ids[p.who.ID],
			Signature: base64.StdEncoding.EncodeToString(sig)}); err != nil {
			return err
		}
	}
	_, err = rules.CertifyContract(ctx, operator, c.ID)
	return err
}

// assessmentReport writes the third-party compliance assessment (R20) a demo product
// cites: a short bilingual document, different for every product.
func assessmentReport(d catalog.Details, supplier registry.Participant, n int) string {
	name := supplier.LegalName.Zh
	if name == "" {
		name = supplier.LegalName.En
	}
	return fmt.Sprintf(`# 数据产品合规评估报告 / Data product compliance assessment

- 报告编号 / Report: SDCA-2026-%04d
- 评估机构 / Assessor: 上海数据合规评估中心 (Shanghai Data Compliance Assessment Centre, demo)
- 产品 / Product: %s / %s
- 供方 / Supplier: %s (%s)
- 数据来源 / Source: %s; 分级 / Grade: %s %d; 来源地 / Origin: %s

## 结论 / Conclusion

数据来源合法，权属清晰，未含个人信息，可在声明的场景内流通交易。
The data is lawfully sourced with clear rights, contains no personal information, and
may be traded for the declared scenarios: %s.
`, n, d.Title.Zh, d.Title.En, name, supplier.ID, d.Source, d.Grade, d.Sublevel, d.OriginJurisdiction, strings.Join(d.Scenarios, ", "))
}
