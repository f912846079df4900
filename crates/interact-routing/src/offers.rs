//! Decisions and offers: the next task for the agent idle longest (by ordered indexes),
//! offers and their time-outs, accept and decline.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Distributor {
    /// The agent accepts an offered task: it leaves the queue and the agent holds it.
    pub fn accept(
        &mut self,
        session: &SessionId,
        agent: &str,
        now: UnixMillis,
    ) -> Result<(), AcceptError> {
        let a = *self.agent_index.get(agent).ok_or(AcceptError::NotOffered)?;
        let task = self.tasks.get_mut(session).ok_or(AcceptError::NotOffered)?;
        let State::Offered {
            agent: to,
            expires_at,
        } = task.state
        else {
            return Err(AcceptError::NotOffered);
        };
        if to != a {
            return Err(AcceptError::NotOffered);
        }
        task.state = State::Assigned { agent: a };
        let t = task.target;
        if let Some(key) = task.key.take() {
            self.targets[t].queued.remove(&key);
        }
        self.offers.remove(&(expires_at, session.clone()));
        self.agents[a as usize].missed = 0;
        self.agents[a as usize].held.insert(session.clone());
        self.dirty.insert(t);
        self.settle(now);
        Ok(())
    }

    /// The agent declines an offered task: it goes on to the next agent. Returns whether
    /// the offer was open.
    pub fn decline(&mut self, session: &SessionId, agent: &str, now: UnixMillis) -> bool {
        let Some(&a) = self.agent_index.get(agent) else {
            return false;
        };
        if !self.is_offered_to(session, agent) {
            return false;
        }
        self.unoffer(session, true);
        self.agents[a as usize].idle_since = now;
        self.refresh(a);
        self.settle(now);
        true
    }

    /// Whether `session` is offered to `agent` now.
    pub fn is_offered_to(&self, session: &SessionId, agent: &str) -> bool {
        let a = self.agent_index.get(agent);
        self.tasks
            .get(session)
            .is_some_and(|t| matches!(t.state, State::Offered { agent, .. } if Some(&agent) == a))
    }

    /// Every open offer: the session, the agent it is offered to and when it lapses, by
    /// lapse time.
    pub fn open_offers(&self) -> Vec<(SessionId, UserId, UnixMillis)> {
        self.offers
            .iter()
            .filter_map(
                |(expires_at, session)| match self.tasks.get(session)?.state {
                    State::Offered { agent, .. } => Some((
                        session.clone(),
                        self.agents[agent as usize].id.clone(),
                        *expires_at,
                    )),
                    _ => None,
                },
            )
            .collect()
    }

    /// The open offers to `agent`: each session and when its offer lapses (to send them
    /// again to a connection the agent opened since).
    pub fn offers_to(&self, agent: &str) -> Vec<(SessionId, UnixMillis)> {
        let Some(&a) = self.agent_index.get(agent) else {
            return Vec::new();
        };
        self.tasks
            .iter()
            .filter_map(|(s, t)| match t.state {
                State::Offered {
                    agent, expires_at, ..
                } if agent == a => Some((s.clone(), expires_at)),
                _ => None,
            })
            .collect()
    }

    /// When the next offer expires or coalesced positions are due.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        let offer = self.offers.first().map(|(at, _)| *at);
        match (offer, self.positions_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Expires the offers due at `now`: each goes back to the queue and on to the next
    /// agent; the agent may be set away. Announces coalesced positions when due.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        if self.positions_due.is_some_and(|at| at <= now) {
            self.announce_positions(now);
        }
        while let Some((at, session)) = self.offers.first().cloned() {
            if at > now {
                break;
            }
            let Some(State::Offered { agent, .. }) = self.tasks.get(&session).map(|t| t.state)
            else {
                self.offers.pop_first();
                continue;
            };
            self.unoffer(&session, true);
            self.out.push_back(Output::Withdraw {
                session,
                agent: self.agents[agent as usize].id.clone(),
                why: Withdrawn::Expired,
            });
            let ag = &mut self.agents[agent as usize];
            ag.missed += 1;
            if self.config.missed_offers_before_away > 0
                && ag.missed >= self.config.missed_offers_before_away
                && ag.presence == Presence::Available
            {
                ag.presence = Presence::Away;
                self.out.push_back(Output::Presence {
                    agent: ag.id.clone(),
                    presence: Presence::Away,
                });
            }
            self.refresh(agent);
        }
        self.settle(now);
    }

    /// The next thing the server has to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---------------------------------------------------------------- views

    /// Takes a task's open offer back (to the queue); `refuse` remembers the agent as
    /// one who declined or missed it.
    pub(crate) fn unoffer(&mut self, session: &SessionId, refuse: bool) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let State::Offered { agent, expires_at } = task.state else {
            return;
        };
        task.state = State::Waiting;
        if refuse {
            task.declined.insert(agent);
            let members = &self.targets[task.target].members;
            // Members who can never take a task of this kind (a call, without the
            // licence) are not waited for.
            let agents = &self.agents;
            let kind = task.kind;
            if members
                .iter()
                .filter(|m| kind == TaskKind::Chat || agents[**m as usize].calls_licensed)
                .all(|m| task.declined.contains(m))
            {
                // Everyone who could had it: a new round rather than a stranded task.
                task.declined.clear();
            }
        }
        let (t, kind) = (task.target, task.kind);
        if let Some(key) = task.key {
            self.targets[t].waiting[kind_index(kind)].insert(key);
            self.active.insert(t);
        }
        self.offers.remove(&(expires_at, session.clone()));
        self.load(agent, kind, -1);
        self.refresh(agent);
    }

    /// Whether agent `a` may get task `task` now.
    pub(crate) fn eligible(&self, task: &Task, a: u32) -> bool {
        self.is_free(a, task.kind) && !task.declined.contains(&a)
    }

    /// Offers tasks while any can be offered, then announces changed positions.
    pub(crate) fn settle(&mut self, now: UnixMillis) {
        loop {
            let pick = match self.config.strategy {
                Strategy::Indexed => self.pick_indexed(),
                Strategy::Scan => self.pick_scan(),
            };
            let Some((session, a)) = pick else { break };
            self.offer(&session, a, now);
        }
        if self.dirty.is_empty() {
            return;
        }
        // At most one announcement per interval: leading edge, then coalesced.
        let next = self.positions_at.map_or(now, |at| {
            UnixMillis(at.0 + self.config.position_interval_ms)
        });
        if now >= next {
            self.announce_positions(now);
        } else {
            self.positions_due = Some(next);
        }
    }

    /// The best (task, agent) pair, by the ordered indexes.
    pub(crate) fn pick_indexed(&mut self) -> Option<(SessionId, u32)> {
        let mut best: Option<(TaskKey, usize, u32)> = None;
        let mut idle = Vec::new();
        for &t in &self.active {
            let target = &self.targets[t];
            if target.waiting.iter().all(BTreeSet::is_empty) {
                idle.push(t);
                continue;
            }
            for (waiting, free) in target.waiting.iter().zip(&target.free) {
                if free.is_empty() {
                    continue;
                }
                for key in waiting {
                    if best.is_some_and(|(b, ..)| b < *key) {
                        break;
                    }
                    let task = &self.tasks[&target.queued[key].session];
                    let agent = free
                        .iter()
                        .map(|&(_, a)| a)
                        .find(|a| !task.declined.contains(a));
                    if let Some(a) = agent {
                        best = Some((*key, t, a));
                        break;
                    }
                }
            }
        }
        for t in idle {
            self.active.remove(&t);
        }
        let (key, t, a) = best?;
        Some((self.targets[t].queued[&key].session.clone(), a))
    }

    pub(crate) fn offer(&mut self, session: &SessionId, a: u32, now: UnixMillis) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let expires_at = UnixMillis(now.0 + self.config.offer_timeout_ms);
        task.state = State::Offered {
            agent: a,
            expires_at,
        };
        let (t, kind) = (task.target, task.kind);
        if let Some(key) = task.key {
            self.targets[t].waiting[kind_index(kind)].remove(&key);
        }
        self.offers.insert((expires_at, session.clone()));
        self.load(a, kind, 1);
        // Idle time counts from the last offer: the next task goes to someone else.
        self.agents[a as usize].idle_since = now;
        self.refresh(a);
        self.decisions += 1;
        self.out.push_back(Output::Offer {
            session: session.clone(),
            agent: self.agents[a as usize].id.clone(),
            expires_at,
        });
    }
}
