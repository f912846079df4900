//! Agents: sign-in, presence, load, and which of them are free to take a task.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Distributor {
    /// The agent signed in (their first connection) or out (their last one). Signing
    /// out takes back their open offers (not counted as missed) and makes them offline.
    pub fn set_signed_in(&mut self, agent: &str, signed_in: bool, now: UnixMillis) {
        let Some(&a) = self.agent_index.get(agent) else {
            return;
        };
        let ag = &mut self.agents[a as usize];
        if ag.signed_in == signed_in {
            return;
        }
        ag.signed_in = signed_in;
        if !signed_in {
            ag.presence = Presence::Offline;
            let open: Vec<SessionId> = self
                .tasks
                .iter()
                .filter(|(_, t)| matches!(t.state, State::Offered { agent, .. } if agent == a))
                .map(|(s, _)| s.clone())
                .collect();
            for s in open {
                self.unoffer(&s, false);
            }
        }
        self.refresh(a);
        self.settle(now);
    }

    /// Sets an agent's presence. Becoming available starts their idle time and forgives
    /// missed offers.
    pub fn set_presence(&mut self, agent: &str, presence: Presence, now: UnixMillis) {
        let Some(&a) = self.agent_index.get(agent) else {
            return;
        };
        let ag = &mut self.agents[a as usize];
        if presence == Presence::Available && ag.presence != Presence::Available {
            ag.idle_since = now;
            ag.missed = 0;
        }
        ag.presence = presence;
        self.refresh(a);
        self.settle(now);
    }

    /// An agent's presence (`offline` for one not signed in or unknown).
    pub fn presence(&self, agent: &str) -> Presence {
        self.agent_index
            .get(agent)
            .map(|&a| &self.agents[a as usize])
            .filter(|a| a.signed_in)
            .map_or(Presence::Offline, |a| a.presence)
    }

    // ---------------------------------------------------------------- tasks

    /// Sessions `agent` holds.
    pub fn held_by(&self, agent: &str) -> Vec<SessionId> {
        self.agent_index
            .get(agent)
            .map(|&a| self.agents[a as usize].held.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The agent holding `session`, if any.
    pub fn agent_of(&self, session: &SessionId) -> Option<&str> {
        match self.tasks.get(session)?.state {
            State::Assigned { agent } => Some(&self.agents[agent as usize].id),
            _ => None,
        }
    }

    /// Whether a chat for `target` would reach someone: a member is signed in and
    /// available (at their chat limit or in a call still counts: the task waits).
    pub fn is_open(&self, target: &TargetRef) -> bool {
        self.target_index.get(target).is_some_and(|&t| {
            self.targets[t].members.iter().any(|&a| {
                let a = &self.agents[a as usize];
                a.signed_in && a.presence == Presence::Available
            })
        })
    }

    /// Members of `target` who could take a chat now, and those signed in who cannot
    /// (busy, away, at their limit, in a call): (available, busy).
    pub fn agent_counts(&self, target: &TargetRef) -> (u32, u32) {
        let Some(&t) = self.target_index.get(target) else {
            return (0, 0);
        };
        let (mut available, mut busy) = (0, 0);
        for &a in &self.targets[t].members {
            let ag = &self.agents[a as usize];
            if !ag.signed_in {
                continue;
            }
            if self.is_free(a, TaskKind::Chat) {
                available += 1;
            } else {
                busy += 1;
            }
        }
        (available, busy)
    }

    pub(crate) fn load(&mut self, a: u32, kind: TaskKind, delta: i32) {
        let ag = &mut self.agents[a as usize];
        let load = match kind {
            TaskKind::Chat => &mut ag.chat_load,
            TaskKind::Call => &mut ag.call_load,
        };
        *load = load.saturating_add_signed(delta);
    }

    pub(crate) fn is_free(&self, a: u32, kind: TaskKind) -> bool {
        let ag = &self.agents[a as usize];
        ag.signed_in
            && ag.presence == Presence::Available
            && ag.call_load == 0
            && match kind {
                TaskKind::Chat => ag.chat_load < self.config.max_chats,
                TaskKind::Call => ag.calls_licensed,
            }
    }

    /// Puts agent `a` in or out of its targets' free sets after anything about it changed.
    pub(crate) fn refresh(&mut self, a: u32) {
        for kind in [TaskKind::Chat, TaskKind::Call] {
            let k = kind_index(kind);
            let want = self
                .is_free(a, kind)
                .then_some((self.agents[a as usize].idle_since, a));
            let ag = &mut self.agents[a as usize];
            if ag.free_as[k] == want {
                continue;
            }
            let old = std::mem::replace(&mut ag.free_as[k], want);
            for &t in &ag.targets {
                let free = &mut self.targets[t].free[k];
                if let Some(old) = old {
                    free.remove(&old);
                }
                if let Some(new) = want {
                    free.insert(new);
                }
            }
        }
    }
}
