package finance

import (
	"context"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/store"
)

// MaxDailyDays is the most days Daily reads back.
const MaxDailyDays = 366

// DueDays is how far ahead Daily reads open receivables: a month of settlements.
const DueDays = 31

// Daily is a merchant's order data day by day, summed over its shops: what its
// dashboard draws (daily sales and orders, return and complaint rates, receivables
// due by day). The sums are the same daily aggregates the features are computed
// from, so a chart and a score never disagree about a day.
type Daily struct {
	MerchantID string `json:"merchant_id"`
	// From and To are the days read (YYYY-MM-DD, China Standard Time), To the day
	// of as_of.
	From string `json:"from"`
	To   string `json:"to"`
	// Days are the sums of the orders placed each day, one per day and currency
	// with data, in day order. A day without orders is absent.
	Days []DaySums `json:"days"`
	// Receivables are the open receivables by expected settlement day and currency,
	// from To through DueDays after it, in day order.
	Receivables []DueSums `json:"receivables"`
}

// Daily reads the merchant's daily sums for the days days up to and including
// asOf's day (now when zero), and its open receivables due in the DueDays from
// then. The merchant itself, suspended or not, and the operator (as Features).
func (s *Service) Daily(ctx context.Context, actor dataport.Actor, merchantID string, days int, asOf time.Time) (Daily, error) {
	const op = "finance.Daily"
	if days < 1 || days > MaxDailyDays {
		return Daily{}, dataport.Invalid(op, dataport.FieldProblem{Field: "days", Message: "from 1 to 366"})
	}
	var d Daily
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		if err := s.mayRead(tx, op, actor, merchantID); err != nil {
			return err
		}
		if asOf.IsZero() {
			asOf = tx.Now()
		}
		last := dayOf(asOf.UnixMicro())
		d = Daily{MerchantID: merchantID, From: dayString(last - int32(days) + 1), To: dayString(last), Days: []DaySums{}, Receivables: []DueSums{}}
		rows, err := tx.Query(`SELECT day, currency, SUM(orders), SUM(cancelled), SUM(sales), SUM(returns), SUM(refunds),
			SUM(refund_amount), SUM(complaints), SUM(rating_sum), SUM(ratings), SUM(dispatched), SUM(dispatched_on_time)
			FROM finance_daily WHERE merchant_id = $1 AND day >= $2 AND day <= $3 GROUP BY day, currency ORDER BY day, currency`,
			merchantID, d.From, d.To)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var s DaySums
			if err := rows.Scan(&s.Day, &s.Currency, &s.Orders, &s.Cancelled, &s.Sales, &s.Returns, &s.Refunds,
				&s.RefundAmount, &s.Complaints, &s.RatingSum, &s.Ratings, &s.Dispatched, &s.DispatchedOnTime); err != nil {
				return dataport.Internal(op, err)
			}
			d.Days = append(d.Days, s)
		}
		if err := rows.Err(); err != nil {
			return dataport.Internal(op, err)
		}
		rows.Close()
		rrows, err := tx.Query(`SELECT due_on, currency, SUM(amount), SUM(orders) FROM finance_receivables
			WHERE merchant_id = $1 AND due_on >= $2 AND due_on <= $3 GROUP BY due_on, currency ORDER BY due_on, currency`,
			merchantID, d.To, dayString(last+DueDays))
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rrows.Close()
		for rrows.Next() {
			var r DueSums
			if err := rrows.Scan(&r.Day, &r.Currency, &r.Amount, &r.Orders); err != nil {
				return dataport.Internal(op, err)
			}
			if r.Amount != 0 || r.Orders != 0 {
				d.Receivables = append(d.Receivables, r)
			}
		}
		return dataport.Wrap(op, rrows.Err())
	})
	return d, err
}
