package catalog

import (
	"context"
	"strings"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// DCAT export: the listed products as a W3C DCAT 3 catalog in JSON-LD, so that
// other catalogs and data spaces can harvest the exchange. Each product is a
// dcat:Dataset with one dcat:Distribution per delivery mode and, as odrl:hasPolicy,
// an ODRL offer permitting use for its declared scenarios. The context is inline, so
// a JSON-LD processor needs nothing from the network.

// DCATContext is the JSON-LD context of the export.
var DCATContext = map[string]any{
	"dcat": "http://www.w3.org/ns/dcat#",
	"dct":  "http://purl.org/dc/terms/",
	"odrl": "http://www.w3.org/ns/odrl/2/",
	"foaf": "http://xmlns.com/foaf/0.1/",
	"xsd":  "http://www.w3.org/2001/XMLSchema#",
	"dp":   "https://dataport.example/ns#",
}

// DCATPage returns one page of the catalog and whether another follows. base is the
// exchange's public URL, which the dataset identifiers are made from.
func (s *Service) DCATPage(ctx context.Context, base string, page, size int) (map[string]any, bool, error) {
	const op = "catalog.DCATPage"
	if page < 1 {
		page = 1
	}
	size = min(max(size, 1), 500)
	base = strings.TrimSuffix(base, "/")
	var datasets []any
	more := false
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT d.product_id FROM search_entries d JOIN participants s ON s.id = d.supplier_id
			WHERE d.live = 1 AND s.status = 'active' AND (d.agent_id = '' OR EXISTS (SELECT 1 FROM participants a WHERE a.id = d.agent_id AND a.status = 'active'))
			ORDER BY d.listed_at, d.product_id LIMIT $1 OFFSET $2`, size+1, (page-1)*size)
		if err != nil {
			return dataport.Internal(op, err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return dataport.Internal(op, err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if len(ids) > size {
			ids, more = ids[:size], true
		}
		ps, err := listedProducts(tx, op, ids)
		for i := range ps {
			datasets = append(datasets, dataset(base, &ps[i]))
		}
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if datasets == nil {
		datasets = []any{}
	}
	doc := map[string]any{
		"@context":     DCATContext,
		"@id":          base + "/catalog.jsonld",
		"@type":        "dcat:Catalog",
		"dct:title":    texts(dataport.Bilingual{Zh: "数据交易所产品目录", En: "Data exchange product catalog"}),
		"dcat:dataset": datasets,
	}
	return doc, more, nil
}

// texts renders a bilingual text as language-tagged JSON-LD values.
func texts(b dataport.Bilingual) []any {
	var out []any
	if b.Zh != "" {
		out = append(out, map[string]any{"@value": b.Zh, "@language": "zh"})
	}
	if b.En != "" {
		out = append(out, map[string]any{"@value": b.En, "@language": "en"})
	}
	return out
}

func dataset(base string, p *Product) map[string]any {
	d := p.Details
	id := base + "/api/v1/products/" + p.ID
	var dists []any
	for _, m := range d.DeliveryModes {
		dists = append(dists, map[string]any{
			"@id": id + "#" + m, "@type": "dcat:Distribution", "dp:deliveryMode": m,
			"dcat:accessURL": map[string]any{"@id": id},
		})
	}
	var purposes []any
	for _, sc := range d.Scenarios {
		purposes = append(purposes, sc)
	}
	ds := map[string]any{
		"@id":               id,
		"@type":             "dcat:Dataset",
		"dct:identifier":    p.RegistrationNumber,
		"dct:title":         texts(d.Title),
		"dct:description":   texts(d.Summary),
		"dcat:keyword":      append([]string{}, d.Tags...),
		"dcat:theme":        d.Category,
		"dct:publisher":     map[string]any{"@id": "urn:dataport:participant:" + p.SupplierID},
		"dct:issued":        map[string]any{"@value": p.RegisteredAt.Format("2006-01-02T15:04:05Z"), "@type": "xsd:dateTime"},
		"dct:spatial":       d.OriginJurisdiction,
		"dp:type":           d.Type,
		"dp:grade":          d.Grade,
		"dp:detailsSHA256":  p.DetailsSHA256,
		"dcat:distribution": dists,
		"odrl:hasPolicy": map[string]any{
			"@id":         id + "#offer",
			"@type":       "odrl:Offer",
			"odrl:target": map[string]any{"@id": id},
			"odrl:permission": []any{map[string]any{
				"odrl:action": map[string]any{"@id": "odrl:use"},
				"odrl:constraint": []any{map[string]any{
					"odrl:leftOperand":  map[string]any{"@id": "odrl:purpose"},
					"odrl:operator":     map[string]any{"@id": "odrl:isAnyOf"},
					"odrl:rightOperand": purposes,
				}},
			}},
		},
	}
	if p.AgentID != "" {
		ds["dp:agent"] = map[string]any{"@id": "urn:dataport:participant:" + p.AgentID}
	}
	return ds
}
