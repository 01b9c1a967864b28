package trade

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/ledger"
	"github.com/dataport/dataport/registry"
	"github.com/dataport/dataport/store"
)

// The books: double-entry accounts in integer minor units per currency. Every posting
// is a set of lines that sum to zero, so all balances of a currency sum to zero —
// the invariant the tests check after many concurrent deals.
//
//	bank:<CUR>                 money that came in from outside (negative: held by the exchange)
//	balance:<participant>      a buyer's funds, available for deals
//	escrow                     money held for agreed deals
//	supplier:<participant>     what the exchange owes a supplier
//	commission:<participant>   an agent's commission
//	fee:exchange               the exchange's fee

// Line is one line of a posting.
type Line struct {
	Account string `json:"account"`
	Amount  int64  `json:"amount" doc:"minor units; positive into the account"`
}

// post writes a balanced posting and moves the balances, in tx.
func post(tx *store.Tx, actor dataport.Actor, kind, dealID, key, currency string, lines []Line) (string, error) {
	var sum int64
	for _, l := range lines {
		sum += l.Amount
	}
	if sum != 0 {
		return "", fmt.Errorf("posting %s does not balance: %d", kind, sum)
	}
	id := dataport.NewID("pst")
	if _, err := tx.Exec(`INSERT INTO postings (id, kind, deal_id, idempotency_key, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		id, kind, dealID, key, actor.ParticipantID, store.FormatTime(tx.Now())); err != nil {
		return "", err
	}
	for _, l := range lines {
		if l.Amount == 0 {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO posting_lines (posting_id, account, currency, amount) VALUES ($1, $2, $3, $4)`,
			id, l.Account, currency, l.Amount); err != nil {
			return "", err
		}
		if _, err := tx.Exec(`INSERT INTO balances (account, currency, amount) VALUES ($1, $2, $3)
			ON CONFLICT (account, currency) DO UPDATE SET amount = balances.amount + excluded.amount`, l.Account, currency, l.Amount); err != nil {
			return "", err
		}
	}
	return id, nil
}

func balance(tx *store.Tx, account, currency string) (int64, error) {
	var n int64
	err := tx.QueryRow(`SELECT amount FROM balances WHERE account = $1 AND currency = $2`, account, currency).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func buyerAccount(id string) string { return "balance:" + id }

// Balance is an account's balance in one currency.
type Balance struct {
	Account  string         `json:"account"`
	Balance  dataport.Money `json:"balance"`
	Currency string         `json:"-"`
}

// Funding records money a participant paid in from its bank: the operator records it
// from the bank's statement. Idempotent by key: a retry returns the first posting.
func (s *Service) Fund(ctx context.Context, actor dataport.Actor, participantID string, amount dataport.Money, key string) (Balance, error) {
	const op = "trade.Fund"
	if actor.Anonymous() {
		return Balance{}, dataport.Errorf(op, dataport.KindUnauthorized, "authentication required")
	}
	if !actor.Has(dataport.RoleOperator) {
		return Balance{}, dataport.Errorf(op, dataport.KindForbidden, "funding is recorded by the operator from the bank's statement")
	}
	var p dataport.Problems
	if amount.Amount <= 0 {
		p.Add("amount.amount", "a positive amount in minor units")
	}
	if !dataport.IsCurrency(amount.Currency) {
		p.Add("amount.currency", "an ISO 4217 code such as CNY")
	}
	if key == "" || len(key) > 200 {
		p.Add("idempotency_key", "money moves only with an Idempotency-Key of at most 200 characters")
	}
	if err := p.Err(op); err != nil {
		return Balance{}, err
	}
	var b Balance
	err := s.db.Write(ctx, func(tx *store.Tx) error {
		if err := registry.MayAct(tx, op, actor); err != nil {
			return err
		}
		if err := registry.CheckActive(tx, participantID); err != nil {
			return dataport.Wrap(op, err)
		}
		operation := fmt.Sprintf("fund %s %d %s", participantID, amount.Amount, amount.Currency)
		done, err := s.idempotent(tx, actor, key, operation)
		if err != nil {
			return err
		}
		if done == "" {
			id, err := post(tx, actor, "funding", "", key, amount.Currency, []Line{
				{Account: "bank:" + amount.Currency, Amount: -amount.Amount},
				{Account: buyerAccount(participantID), Amount: amount.Amount},
			})
			if err != nil {
				return dataport.Internal(op, err)
			}
			if err := s.remember(tx, actor, key, operation, id); err != nil {
				return err
			}
			if _, err := ledger.File(tx, actor, ledger.Change{Type: "trade.funded", Subjects: []string{participantID, id},
				Payload: map[string]any{"posting_id": id, "participant_id": participantID, "amount": amount}}); err != nil {
				return err
			}
		}
		n, err := balance(tx, buyerAccount(participantID), amount.Currency)
		if err != nil {
			return dataport.Internal(op, err)
		}
		b = Balance{Account: buyerAccount(participantID), Balance: dataport.Money{Amount: n, Currency: amount.Currency}}
		if done != "" {
			return errReplayed
		}
		return nil
	})
	if errors.Is(err, errReplayed) {
		err = nil
	}
	return b, err
}

// errReplayed rolls back a transaction that only looked: a retried request files
// nothing new.
var errReplayed = errors.New("a retried request")

// idempotent looks up key for the actor: "" when unused; the result id when the same
// operation used it; a conflict when another did.
func (s *Service) idempotent(tx *store.Tx, actor dataport.Actor, key, operation string) (string, error) {
	if key == "" {
		return "", nil
	}
	var was, result string
	err := tx.QueryRow(`SELECT operation, result_id FROM idempotency_keys WHERE participant_id = $1 AND key = $2`,
		actor.ParticipantID, key).Scan(&was, &result)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", dataport.Internal("trade.idempotent", err)
	case was != operation:
		return "", dataport.Errorf("trade.idempotent", dataport.KindConflict, "Idempotency-Key %q was used for another request (%s)", key, was)
	}
	return result, nil
}

func (s *Service) remember(tx *store.Tx, actor dataport.Actor, key, operation, result string) error {
	if key == "" {
		return nil
	}
	_, err := tx.Exec(`INSERT INTO idempotency_keys (participant_id, key, operation, result_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
		actor.ParticipantID, key, operation, result, store.FormatTime(tx.Now()))
	return dataport.Wrap("trade.remember", err)
}

// Balances returns a participant's balances: the participant, the operator and
// regulators.
func (s *Service) Balances(ctx context.Context, actor dataport.Actor, participantID string) ([]Balance, error) {
	const op = "trade.Balances"
	if actor.ParticipantID != participantID && !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindNotFound, "no participant %s", participantID)
	}
	out := []Balance{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT account, currency, amount FROM balances WHERE account IN ($1, $2, $3) ORDER BY account, currency`,
			buyerAccount(participantID), "supplier:"+participantID, "commission:"+participantID)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var b Balance
			if err := rows.Scan(&b.Account, &b.Currency, &b.Balance.Amount); err != nil {
				return dataport.Internal(op, err)
			}
			b.Balance.Currency = b.Currency
			out = append(out, b)
		}
		return rows.Err()
	})
	return out, err
}

// TrialBalance sums every account per currency: zero when the books balance.
// Operator and regulators.
func (s *Service) TrialBalance(ctx context.Context, actor dataport.Actor) (map[string]int64, error) {
	const op = "trade.TrialBalance"
	if !actor.Has(dataport.RoleOperator, dataport.RoleRegulator) {
		return nil, dataport.Errorf(op, dataport.KindForbidden, "the books are the operator's")
	}
	out := map[string]int64{}
	err := s.db.Read(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(`SELECT currency, SUM(amount) FROM posting_lines GROUP BY currency`)
		if err != nil {
			return dataport.Internal(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			var n int64
			if err := rows.Scan(&c, &n); err != nil {
				return dataport.Internal(op, err)
			}
			out[c] = n
		}
		return rows.Err()
	})
	return out, err
}
