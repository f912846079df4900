//! Tasks and queues: adding, queueing, priorities, transfers, the end of a task, and the
//! queue positions announced to waiting visitors.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Distributor {
    /// Registers a session's task without queueing it (its workflow queues it later with
    /// [`Self::enqueue`]).
    pub fn add(&mut self, session: SessionId, target: &TargetRef, kind: TaskKind) {
        let t = self.target(target);
        self.tasks.entry(session).or_insert(Task {
            target: t,
            kind,
            priority: Priority::DEFAULT,
            key: None,
            state: State::Held,
            declined: BTreeSet::new(),
        });
    }

    /// Registers a session an agent already holds (restored after a restart).
    pub fn add_assigned(
        &mut self,
        session: SessionId,
        target: &TargetRef,
        kind: TaskKind,
        agent: &str,
    ) {
        let Some(&a) = self.agent_index.get(agent) else {
            // The agent is gone from the configuration: the session waits again.
            self.add(session.clone(), target, kind);
            return;
        };
        self.add(session.clone(), target, kind);
        if let Some(task) = self.tasks.get_mut(&session)
            && task.state == State::Held
        {
            task.state = State::Assigned { agent: a };
            self.agents[a as usize].held.insert(session);
            self.load(a, kind, 1);
            self.refresh(a);
        }
    }

    /// Queues a registered task with `priority`, or changes the priority of a queued one
    /// (keeping its time in the queue). Its time in the queue starts now if it was not
    /// queued.
    pub fn enqueue(&mut self, session: &SessionId, priority: Priority, now: UnixMillis) {
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let t = task.target;
        match task.state {
            State::Assigned { .. } => return,
            State::Held => {
                self.arrivals += 1;
                let key = (Reverse(priority), now, self.arrivals);
                task.priority = priority;
                task.key = Some(key);
                task.state = State::Waiting;
                let queued = Queued {
                    session: session.clone(),
                    announced: None,
                };
                self.targets[t].queued.insert(key, queued);
                self.targets[t].waiting[kind_index(task.kind)].insert(key);
                self.active.insert(t);
            }
            State::Waiting | State::Offered { .. } => {
                let Some(old) = task.key else { return };
                let key = (Reverse(priority), old.1, old.2);
                task.priority = priority;
                task.key = Some(key);
                let target = &mut self.targets[t];
                if let Some(queued) = target.queued.remove(&old) {
                    target.queued.insert(key, queued);
                }
                let waiting = &mut target.waiting[kind_index(task.kind)];
                if waiting.remove(&old) {
                    waiting.insert(key);
                }
            }
        }
        self.dirty.insert(t);
        self.settle(now);
    }

    /// Changes a task's priority; a queued task moves to its new place.
    pub fn set_priority(&mut self, session: &SessionId, priority: Priority, now: UnixMillis) {
        match self.tasks.get_mut(session) {
            Some(task) if task.state == State::Held => task.priority = priority,
            Some(_) => self.enqueue(session, priority, now),
            None => {}
        }
    }

    /// Takes a task out of the queue (Cancel Task); an open offer is withdrawn. The task
    /// stays registered and can be queued again.
    pub fn dequeue(&mut self, session: &SessionId, now: UnixMillis) {
        self.unqueue(session);
        self.settle(now);
    }

    /// Hands a task to another target (Transfer): it joins the new target's queue now if
    /// it was queued, and no one has declined it there. An assigned task (an agent's
    /// transfer) frees its agent and waits, not queued, for the new target's workflow
    /// or [`Self::enqueue`].
    pub fn retarget(&mut self, session: &SessionId, target: &TargetRef, now: UnixMillis) {
        let to = self.target(target);
        self.unassign(session);
        let Some(task) = self.tasks.get(session) else {
            return;
        };
        let was_queued = task.state != State::Held;
        let priority = task.priority;
        self.unqueue(session);
        if let Some(task) = self.tasks.get_mut(session) {
            task.target = to;
            task.declined.clear();
        }
        if was_queued {
            self.enqueue(session, priority, now);
        }
        self.settle(now);
    }

    /// Puts an assigned task back in the queue, at the back of its priority (the
    /// acceptance could not be stored).
    pub fn requeue(&mut self, session: &SessionId, now: UnixMillis) {
        if let Some(priority) = self.unassign(session) {
            self.enqueue(session, priority, now);
        }
    }

    /// Takes an assigned task from its agent (who is freed), held and not queued; its
    /// priority, or `None` if it was not assigned.
    fn unassign(&mut self, session: &SessionId) -> Option<Priority> {
        let task = self.tasks.get_mut(session)?;
        let State::Assigned { agent } = task.state else {
            return None;
        };
        task.state = State::Held;
        let (kind, priority) = (task.kind, task.priority);
        self.agents[agent as usize].held.remove(session);
        self.load(agent, kind, -1);
        self.refresh(agent);
        Some(priority)
    }

    /// The session ended: it leaves the queue (an open offer is withdrawn) or frees its
    /// agent.
    pub fn remove(&mut self, session: &SessionId, now: UnixMillis) {
        self.unqueue(session);
        if let Some(task) = self.tasks.remove(session)
            && let State::Assigned { agent } = task.state
        {
            self.agents[agent as usize].held.remove(session);
            self.load(agent, task.kind, -1);
            if task.kind == TaskKind::Call {
                // Back from a call: idle from now.
                self.agents[agent as usize].idle_since = now;
            }
            self.refresh(agent);
        }
        self.settle(now);
    }

    /// A call started in an assigned chat (the visitor escalated): the agent is in a
    /// call, and takes no other task until [`Self::call_ended`].
    pub fn call_started(&mut self, session: &SessionId, now: UnixMillis) {
        self.switch_kind(session, TaskKind::Call, now);
    }

    /// The call in `session` ended; the chat goes on.
    pub fn call_ended(&mut self, session: &SessionId, now: UnixMillis) {
        self.switch_kind(session, TaskKind::Chat, now);
    }

    pub(crate) fn switch_kind(&mut self, session: &SessionId, kind: TaskKind, now: UnixMillis) {
        // Only a held task changes kind (a call starts once an agent has the chat).
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        let State::Assigned { agent } = task.state else {
            return;
        };
        let old = std::mem::replace(&mut task.kind, kind);
        if old == kind {
            return;
        }
        self.load(agent, old, -1);
        self.load(agent, kind, 1);
        if old == TaskKind::Call {
            self.agents[agent as usize].idle_since = now;
        }
        self.refresh(agent);
        self.settle(now);
    }

    // ---------------------------------------------------------------- time

    /// Sessions known (queued, offered, held, or waiting for their workflow).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether `session` is routed (waiting, offered or assigned).
    pub fn contains(&self, session: &SessionId) -> bool {
        self.tasks.contains_key(session)
    }

    /// Whether no session is known.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Tasks in `target`'s queue (offered ones included).
    pub fn queue_len(&self, target: &TargetRef) -> usize {
        self.target_index
            .get(target)
            .map_or(0, |&t| self.targets[t].queued.len())
    }

    /// A task's queue position, if it is queued.
    pub fn position(&self, session: &SessionId) -> Option<u32> {
        let task = self.tasks.get(session)?;
        let key = task.key?;
        let n = self.targets[task.target].queued.range(..key).count();
        u32::try_from(n + 1).ok()
    }

    // ---------------------------------------------------------------- inside

    /// Takes a task out of its queue (withdrawing an open offer), back to held.
    pub(crate) fn unqueue(&mut self, session: &SessionId) {
        let Some(task) = self.tasks.get(session) else {
            return;
        };
        if let State::Offered { agent, .. } = task.state {
            self.unoffer(session, false);
            self.out.push_back(Output::Withdraw {
                session: session.clone(),
                agent: self.agents[agent as usize].id.clone(),
                why: Withdrawn::Cancelled,
            });
        }
        let Some(task) = self.tasks.get_mut(session) else {
            return;
        };
        if task.state != State::Waiting {
            return;
        }
        task.state = State::Held;
        let (t, kind) = (task.target, task.kind);
        if let Some(key) = task.key.take() {
            let target = &mut self.targets[t];
            target.queued.remove(&key);
            target.waiting[kind_index(kind)].remove(&key);
        }
        self.dirty.insert(t);
    }

    /// Announces the positions that changed in the targets whose queues changed.
    pub(crate) fn announce_positions(&mut self, now: UnixMillis) {
        self.positions_due = None;
        self.positions_at = Some(now);
        while let Some(t) = self.dirty.pop_first() {
            for (n, queued) in self.targets[t].queued.values_mut().enumerate() {
                let position = u32::try_from(n + 1).unwrap_or(u32::MAX);
                if queued.announced != Some(position) {
                    queued.announced = Some(position);
                    self.out.push_back(Output::Position {
                        session: queued.session.clone(),
                        position,
                    });
                }
            }
        }
    }
}
