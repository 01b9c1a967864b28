package web

// dealRoutes adds the pages of demands and deals, which buyers, suppliers and
// agents share, each seeing its side: /demands/… and /deals/….
func (c *Console) dealRoutes() {}
