package catalog

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/dataport/dataport"
)

// synthetic makes believable bilingual products for load benchmarks. Words are drawn
// from Zipf distributions, as in a real catalog: a few words (数据, "data", 指数) are
// in most listings, a long tail of place, company and indicator names in very few.
// The head vocabularies are real catalog words; the tails are made of syllables and
// common characters, so that the index sees tens of thousands of distinct terms.
type synthetic struct {
	r                *rand.Rand
	zh, en           []string
	zhZipf, enZipf   *rand.Zipf
	categories       []string
	types            []string
	origins          []string
	modes            []string
	grades           []string
	catZipf, orgZipf *rand.Zipf
}

var (
	zhHead = strings.Fields(`数据 指数 月度 全球 中国 信用 价格 企业 报告 每日 实时 风险 航运 能源 电力 贸易 物流 港口 集装箱 原油 天然气 气候 温度
		降水 医疗 健康 医院 药品 电商 订单 消费 零售 金融 银行 保险 证券 评分 评级 市场 行业 统计 分析 预测 模型 区域 城市 省份 海关 进出口
		汽车 新能源 电池 光伏 风电 碳排放 碳 排放 水运 航空 铁路 公路 运价 运力 船舶 油轮 散货 干散货 航线 货物 吞吐量 库存 产量 需求 供给 宏观
		经济 就业 人口 收入 支出 税收 财政 利率 汇率 外汇 债券 股票 基金 期货 大宗商品 钢铁 铜 铝 煤炭 粮食 大豆 玉米 小麦 农业 土地 遥感 卫星
		影像 地理 交通 出行 旅游 酒店 餐饮 门店 商户 小微 跨境 支付 结算 发票 供应链 采购 招标 专利 知识产权 科研 论文 教育 学校 医保 疾病
		疫苗 基因 临床 试验 天气 台风 海洋 海温 冰川 森林 空气 质量 水质 环境 污染 噪声 用电 负荷 电价 储能 氢能 充电 物联网 传感器 日志 用户
		行为 画像 舆情 新闻 社交 广告 营销 销售 评论 评价 退货 退款 投诉 直播 主播 流量 点击 转化 工业 制造 设备 故障 维修 能耗 效率`)
	enHead = strings.Fields(`data index monthly global daily price market credit risk report trade energy shipping port container freight oil gas
		climate temperature rainfall health hospital drug ecommerce order consumer retail finance bank insurance equity score scoring rating
		forecast model region city province customs import export vehicle battery solar wind carbon emissions vessel tanker bulk route cargo
		throughput inventory production demand supply macro economy employment population income tax rate currency exchange bond stock fund
		futures commodity steel copper aluminium coal grain soybean corn wheat agriculture land satellite imagery geospatial traffic mobility
		tourism hotel restaurant store merchant small business payment settlement invoice supply chain procurement tender patent research
		education insurance claims disease vaccine genomics clinical trial weather typhoon ocean sea surface glacier forest air quality water
		pollution electricity load storage hydrogen charging sensor logs user behaviour sentiment news social advertising marketing sales
		reviews returns refunds complaints livestream traffic clicks conversion industrial manufacturing equipment failure maintenance
		efficiency annual quarterly weekly historical real time open api dataset series statistics analytics indicators survey panel`)
	syllables  = strings.Fields(`ka lo ri ne ta mo sa vi del ber gen hav nor sun lin ko ma ra po tu shi an el or us ing ton ville berg mar`)
	commonHans = []rune(`的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质`)
)

func newSynthetic(seed uint64) *synthetic {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := &synthetic{r: r, zh: zhHead, en: enHead,
		categories: []string{"energy", "shipping", "finance", "ecommerce", "climate", "health", "transport", "agriculture", "industry", "geospatial"},
		types:      []string{"dataset", "api", "report", "model", "service", "tool"},
		origins:    []string{"CN", "NO", "GB", "US", "DE", "SG", "JP", "FR", "NL", "AU", "KR", "AE", "BR", "IN", "CA"},
		modes:      []string{"file", "api", "sandbox", "stream", "privacy_computing"},
		grades:     []string{"general", "general", "general", "important"},
	}
	// The long tails: 40,000 names of two to four syllables, 30,000 two- and
	// three-character Chinese words.
	seen := map[string]bool{}
	for len(g.en) < len(enHead)+40_000 {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syllables[r.IntN(len(syllables))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			g.en = append(g.en, w)
		}
	}
	for len(g.zh) < len(zhHead)+30_000 {
		n := 2 + r.IntN(2)
		w := make([]rune, n)
		for i := range w {
			w[i] = commonHans[r.IntN(len(commonHans))]
		}
		if s := string(w); !seen[s] {
			seen[s] = true
			g.zh = append(g.zh, s)
		}
	}
	g.zhZipf = rand.NewZipf(r, 1.07, 2, uint64(len(g.zh)-1))
	g.enZipf = rand.NewZipf(r, 1.07, 2, uint64(len(g.en)-1))
	g.catZipf = rand.NewZipf(r, 1.3, 1, uint64(len(g.categories)-1))
	g.orgZipf = rand.NewZipf(r, 1.5, 1, uint64(len(g.origins)-1))
	return g
}

func (g *synthetic) zhWords(n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(g.zh[g.zhZipf.Uint64()])
	}
	return b.String()
}

func (g *synthetic) enWords(n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = g.en[g.enZipf.Uint64()]
	}
	return strings.Join(ws, " ")
}

// details returns the next product's details.
func (g *synthetic) details() Details {
	r := g.r
	cat := g.categories[g.catZipf.Uint64()]
	d := Details{
		Type:     g.types[r.IntN(len(g.types))],
		Category: cat,
		Title: dataport.Bilingual{Zh: g.zhWords(2+r.IntN(3)) + []string{"数据", "指数", "报告", "数据集", "接口"}[r.IntN(5)],
			En: g.enWords(3+r.IntN(4)) + " " + []string{"data", "index", "report", "dataset", "API"}[r.IntN(5)]},
		Summary:     dataport.Bilingual{Zh: g.zhWords(6 + r.IntN(8)), En: g.enWords(8 + r.IntN(10))},
		Description: dataport.Bilingual{Zh: g.zhWords(10 + r.IntN(15)), En: g.enWords(15 + r.IntN(20))},
		Tags:        []string{g.enWords(1), g.zhWords(1)},
		Coverage:    g.origins[g.orgZipf.Uint64()],
		Scenarios:   []string{"research"},
		Source:      "enterprise", Grade: g.grades[r.IntN(len(g.grades))], Sublevel: 1 + r.IntN(3),
		OriginJurisdiction: g.origins[g.orgZipf.Uint64()],
		Rights:             Rights{Holding: true, ProcessingUse: true, ProductOperation: true},
		Attachments:        []Attachment{{Kind: "compliance_report", SHA256: fmt.Sprintf("%064x", r.Uint64())}},
	}
	for _, m := range g.modes {
		if r.IntN(3) == 0 || len(d.DeliveryModes) == 0 && m == "privacy_computing" {
			d.DeliveryModes = append(d.DeliveryModes, m)
		}
	}
	currency := []string{"CNY", "CNY", "CNY", "USD", "EUR"}[r.IntN(5)]
	for range 1 + r.IntN(3) {
		kind := []string{"one_off", "subscription", "per_call"}[r.IntN(3)]
		plan := PricePlan{Kind: kind, Price: dataport.Money{Amount: int64(100 * (1 + r.IntN(50_000))), Currency: currency}}
		if kind == "subscription" {
			plan.Period = "month"
		}
		if kind == "per_call" {
			plan.Price.Amount = int64(1 + r.IntN(500))
		}
		d.PricePlans = append(d.PricePlans, plan)
	}
	return d
}
