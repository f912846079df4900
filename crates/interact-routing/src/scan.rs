//! The specification: the same decisions as the indexed strategy, taken by brute force
//! (every waiting task against every agent), for the property tests and the benchmark's
//! baseline.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Distributor {
    /// The best (task, agent) pair by brute force: every waiting task in order against
    /// every agent.
    pub(crate) fn pick_scan(&self) -> Option<(SessionId, u32)> {
        let mut waiting: Vec<(TaskKey, &SessionId, &Task)> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state == State::Waiting)
            .filter_map(|(s, t)| t.key.map(|k| (k, s, t)))
            .collect();
        waiting.sort_by_key(|(k, ..)| *k);
        for (_, session, task) in waiting {
            let best = self.targets[task.target]
                .members
                .iter()
                .copied()
                .filter(|&a| self.eligible(task, a))
                .min_by_key(|&a| (self.agents[a as usize].idle_since, a));
            if let Some(a) = best {
                return Some((session.clone(), a));
            }
        }
        None
    }
}
