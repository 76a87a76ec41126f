//! The numbering of every room entered and channel watched: the last id seen in each (both
//! the resume point and the duplicate filter), the resume points still waiting for a first
//! event, and the holes being fetched with the events held meanwhile.
//!
//! Plain state, no I/O: it says where an event stands and what to do; the engine writes the
//! frames and emits the events. Each is named by its [`Target`]: a room and a channel of the
//! same name are numbered apart, so a hole or a gap in one never touches the other.

use crate::events::Target;
use std::collections::{BTreeMap, HashMap};

/// Most events held while a hole is fetched; past this the engine stops waiting.
pub(crate) const MAX_HELD: usize = 4096;

/// Rooms and channels with the last id seen in each (`None`: nothing seen yet).
pub(crate) type ResumePoints = Vec<(Target, Option<u64>)>;

/// Where a numbered event stands in its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// The next one (or the first): deliver.
    Next,
    /// Already delivered, or not ours: drop.
    Seen,
    /// Ids were skipped: fetch the hole.
    Hole,
    /// A hole is being fetched: wait.
    Hold,
}

/// What delivering a numbered event takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Accept {
    /// Seen already (or not followed): drop it.
    Drop,
    /// Deliver it; `gap_after` is the resume point it skipped past (a `Gap` goes first).
    Deliver { gap_after: Option<u64> },
}

/// Per room and channel numbering; `T` is what is held while a hole is fetched.
pub(crate) struct Sequencer<T> {
    /// Rooms entered and channels watched, with the last event id seen in each. Ordered
    /// (rooms first, then channels, each by name): resume writes them so.
    followed: BTreeMap<Target, Option<u64>>,
    /// Followed again with `since` and still waiting for the first event: if it skips ids, a
    /// `Gap` goes right before it, where the UI shows it.
    resuming: HashMap<Target, u64>,
    /// Holes being fetched: the events held meanwhile, with their ids.
    fills: HashMap<Target, Vec<(u64, T)>>,
}

impl<T> Default for Sequencer<T> {
    fn default() -> Self {
        Sequencer {
            followed: BTreeMap::new(),
            resuming: HashMap::new(),
            fills: HashMap::new(),
        }
    }
}

impl<T> Sequencer<T> {
    /// Follows a room or channel; returns where to resume it from (the last id seen when it is
    /// followed already).
    pub(crate) fn follow(&mut self, target: &Target) -> Option<u64> {
        *self.followed.entry(target.clone()).or_insert(None)
    }

    /// Sets where a room or channel just followed resumes from, when it was kept elsewhere
    /// (the app's stored history). Only a fresh one: ids seen here are newer than any seed.
    pub(crate) fn seed(&mut self, target: &Target, last_id: u64) {
        if let Some(last @ None) = self.followed.get_mut(target) {
            *last = Some(last_id);
        }
    }

    /// A seed turned out to be from another numbering: resume from the server's start.
    pub(crate) fn reseed_from_start(&mut self, target: &Target) {
        if let Some(last) = self.followed.get_mut(target) {
            *last = Some(0);
        }
    }

    /// Forgets a seed: the server turned out not to number events at all.
    pub(crate) fn unseed(&mut self, target: &Target) {
        if let Some(last) = self.followed.get_mut(target) {
            *last = None;
        }
    }

    /// Stops following; false when it was not followed. A hole being fetched and a resume
    /// still waiting for its first event are forgotten, so coming back later starts clean.
    pub(crate) fn unfollow(&mut self, target: &Target) -> bool {
        self.fills.remove(target);
        self.resuming.remove(target);
        self.followed.remove(target).is_some()
    }

    pub(crate) fn follows(&self, target: &Target) -> bool {
        self.followed.contains_key(target)
    }

    /// Everything followed with its resume point: rooms first, then channels, each by name.
    pub(crate) fn resume_points(&self) -> ResumePoints {
        self.followed.iter().map(|(t, v)| (t.clone(), *v)).collect()
    }

    pub(crate) fn last_seen(&self, target: &Target) -> Option<u64> {
        self.followed.get(target).copied().flatten()
    }

    /// The server was asked to replay after `since`: the first event that follows is checked
    /// for skipped ids.
    pub(crate) fn resuming_from(&mut self, target: &Target, since: u64) {
        self.resuming.insert(target.clone(), since);
    }

    /// Where a room stood when we came in (presence's `last_id`). An event lost right after
    /// (behind Pushpin a subscription is applied asynchronously) is then a hole that gets
    /// fetched, not a silent loss. 0 may just mean a server that does not say.
    pub(crate) fn anchor(&mut self, room: &Target, last_id: u64) {
        if let Some(last @ None) = self.followed.get_mut(room) {
            if last_id > 0 {
                *last = Some(last_id);
            }
        }
    }

    /// A new numbering epoch: every resume point is void, so everything resumes from the start
    /// of what the server has. Returns where each one that had seen ids ended (rooms first).
    pub(crate) fn renumber(&mut self) -> Vec<(Target, u64)> {
        let mut ended = Vec::new();
        for (target, last) in self.followed.iter_mut() {
            if let Some(seen) = last.replace(0) {
                ended.push((target.clone(), seen));
            }
        }
        ended
    }

    /// Where a numbered event stands in its room's (or channel's) sequence.
    pub(crate) fn order(&self, target: &Target, id: u64) -> Order {
        if !self.fills.is_empty() && self.fills.contains_key(target) {
            return Order::Hold;
        }
        match self.followed.get(target) {
            None => Order::Seen,
            Some(None) => Order::Next,
            Some(Some(last)) if id <= *last => Order::Seen,
            Some(Some(last)) if id == last + 1 => Order::Next,
            // Right after a resume a jump means the history did not reach back: `accept`
            // marks it, nothing more can be fetched.
            Some(Some(_)) if self.resuming.contains_key(target) => Order::Next,
            Some(Some(_)) => Order::Hole,
        }
    }

    /// Takes a numbered event as delivered unless it was already seen.
    pub(crate) fn accept(&mut self, target: &Target, id: u64) -> Accept {
        match self.followed.get_mut(target) {
            Some(last) if last.is_none_or(|l| id > l) => *last = Some(id),
            _ => return Accept::Drop,
        }
        let gap_after = if self.resuming.is_empty() {
            None
        } else {
            self.resuming.remove(target).filter(|since| id > since + 1)
        };
        Accept::Deliver { gap_after }
    }

    pub(crate) fn is_filling(&self, target: &Target) -> bool {
        self.fills.contains_key(target)
    }

    /// Ids were skipped before `id`: holds it while the hole is fetched; returns the last id
    /// seen, which the fetch resumes from.
    pub(crate) fn start_fill(&mut self, target: &Target, id: u64, item: T) -> Option<u64> {
        self.fills.insert(target.clone(), vec![(id, item)]);
        self.last_seen(target)
    }

    /// Holds an event while its hole is fetched; true when the holding is full and the engine
    /// should [`give_up`](Self::give_up).
    pub(crate) fn hold(&mut self, target: &Target, id: u64, item: T) -> bool {
        let held = self.fills.get_mut(target).expect("a fill is pending");
        held.push((id, item));
        held.len() >= MAX_HELD
    }

    /// The replay is not coming (or not soon): stop waiting. Returns the last id seen (where
    /// the loss begins) and the held events in id order.
    pub(crate) fn give_up(&mut self, target: &Target) -> (Option<u64>, Vec<T>) {
        let after_id = self.last_seen(target);
        self.resuming.remove(target);
        (after_id, self.release(target))
    }

    /// The server's `resumed`: the replay after `since` is complete and its history now ends
    /// at `last_id`. Returns whether the first event after `since` was still awaited.
    pub(crate) fn resumed(&mut self, target: &Target, since: u64, last_id: u64) -> bool {
        let waiting = self.resuming.remove(target).is_some();
        if last_id < since {
            // The server numbers this from scratch (it restarted, or its history was reset):
            // ids we saw before say nothing about the new ones, so dropping them as duplicates
            // would lose them silently.
            if let Some(last) = self.followed.get_mut(target) {
                *last = (last_id > 0).then_some(last_id);
            }
        }
        waiting
    }

    /// Ends a fill: the held events in id order (arrival order among equal ids). Each still
    /// goes through [`accept`](Self::accept), which drops what the replay already delivered.
    pub(crate) fn release(&mut self, target: &Target) -> Vec<T> {
        let Some(mut held) = self.fills.remove(target) else {
            return Vec::new();
        };
        held.sort_by_key(|(id, _)| *id);
        held.into_iter().map(|(_, item)| item).collect()
    }

    /// A new connection: held events are replayed by the resume that follows.
    pub(crate) fn connection_changed(&mut self) {
        self.fills.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    fn room(name: &str) -> Target {
        Target::Room(name.into())
    }

    fn channel(name: &str) -> Target {
        Target::Channel(name.into())
    }

    /// What the engine does with one numbered event (see `Engine::sequence`), with the
    /// frames it would write reduced to the `since` of each fetch and the `Gap`s it would
    /// emit collected.
    #[derive(Default)]
    struct Story {
        seq: Sequencer<u64>,
        delivered: Vec<u64>,
        fetches: Vec<u64>,
        gaps: Vec<Option<u64>>,
    }

    impl Story {
        fn entered(last: u64) -> Story {
            let mut story = Story::default();
            story.seq.follow(&room("lobby"));
            story.seq.anchor(&room("lobby"), last);
            story
        }

        fn arrives(&mut self, id: u64) {
            match self.seq.order(&room("lobby"), id) {
                Order::Seen => {}
                Order::Next => self.deliver(id),
                Order::Hold => {
                    if self.seq.hold(&room("lobby"), id, id) {
                        let (after, held) = self.seq.give_up(&room("lobby"));
                        self.gaps.push(after);
                        held.into_iter().for_each(|id| self.deliver(id));
                    }
                }
                Order::Hole => {
                    let since = self
                        .seq
                        .start_fill(&room("lobby"), id, id)
                        .expect("a hole has a start");
                    self.seq.resuming_from(&room("lobby"), since);
                    self.fetches.push(since);
                }
            }
        }

        fn resumed(&mut self, since: u64, last_id: u64) {
            self.seq.resumed(&room("lobby"), since, last_id);
            for id in self.seq.release(&room("lobby")) {
                self.deliver(id);
            }
        }

        fn deliver(&mut self, id: u64) {
            if let Accept::Deliver { gap_after } = self.seq.accept(&room("lobby"), id) {
                if gap_after.is_some() {
                    self.gaps.push(gap_after);
                }
                self.delivered.push(id);
            }
        }
    }

    #[test]
    fn events_in_order_are_delivered_and_a_duplicate_is_dropped() {
        let mut story = Story::entered(10);
        for id in [11, 12, 12, 11, 13] {
            story.arrives(id);
        }
        assert_eq!(story.delivered, [11, 12, 13]);
        assert!(story.fetches.is_empty());
    }

    #[test]
    fn a_fresh_room_takes_its_first_event_whatever_its_id() {
        let mut seq = Sequencer::<()>::default();
        assert_eq!(seq.follow(&room("lobby")), None);
        assert_eq!(seq.order(&room("lobby"), 57), Order::Next);
        assert_eq!(
            seq.accept(&room("lobby"), 57),
            Accept::Deliver { gap_after: None }
        );
        assert_eq!(seq.last_seen(&room("lobby")), Some(57));
    }

    #[test]
    fn leaving_during_a_resume_and_coming_back_shows_no_gap() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&room("lobby"));
        seq.resuming_from(&room("lobby"), 10);
        assert!(seq.unfollow(&room("lobby")));
        // Entered again fresh: the room's current events are not "after 10".
        seq.follow(&room("lobby"));
        assert_eq!(
            seq.accept(&room("lobby"), 40),
            Accept::Deliver { gap_after: None }
        );
    }

    #[test]
    fn a_seed_sets_where_a_fresh_room_resumes_but_never_rewinds_one_already_seen() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&room("lobby"));
        seq.seed(&room("lobby"), 42);
        assert_eq!(seq.resume_points(), [(room("lobby"), Some(42))]);
        assert_eq!(seq.order(&room("lobby"), 42), Order::Seen, "stored already");
        seq.accept(&room("lobby"), 43);
        seq.seed(&room("lobby"), 10);
        assert_eq!(seq.last_seen(&room("lobby")), Some(43));
        seq.reseed_from_start(&room("lobby"));
        assert_eq!(seq.last_seen(&room("lobby")), Some(0));
    }

    #[test]
    fn events_of_a_room_not_followed_are_dropped() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&channel("lobby"));
        assert_eq!(seq.order(&room("lobby"), 1), Order::Seen);
        assert_eq!(seq.accept(&room("lobby"), 1), Accept::Drop);
    }

    /// Regression: rooms and channels were told apart by a `bool` that the `Gap` event lost, so
    /// a channel's gap showed in the room of the same name.
    #[test]
    fn a_hole_in_a_channel_leaves_the_room_of_the_same_name_alone() {
        let mut seq = Sequencer::<u64>::default();
        seq.follow(&room("news"));
        seq.follow(&channel("news"));
        seq.accept(&room("news"), 1);
        seq.accept(&channel("news"), 2);
        assert_eq!(seq.order(&channel("news"), 4), Order::Hole);
        assert_eq!(seq.start_fill(&channel("news"), 4, 4), Some(2));
        seq.resuming_from(&channel("news"), 2);
        assert!(seq.is_filling(&channel("news")));
        assert!(!seq.is_filling(&room("news")));
        assert_eq!(
            seq.order(&room("news"), 2),
            Order::Next,
            "the room is not held"
        );
        assert_eq!(
            seq.accept(&room("news"), 2),
            Accept::Deliver { gap_after: None }
        );
        assert!(
            seq.resumed(&channel("news"), 2, 4),
            "the channel's gap is the channel's"
        );
        assert_eq!(seq.release(&channel("news")), [4]);
        assert!(
            !seq.resumed(&room("news"), 2, 4),
            "the room was not resuming"
        );
    }

    #[test]
    fn a_skipped_id_is_fetched_and_the_held_events_follow_in_order() {
        let mut story = Story::entered(3);
        story.arrives(4);
        story.arrives(6); // 5 was lost on the way
        story.arrives(8);
        story.arrives(7);
        assert_eq!(story.delivered, [4]);
        assert_eq!(
            story.fetches,
            [4],
            "the fetch resumes from the last id seen"
        );
        // The server's replay from 4: held too, then `resumed` releases everything once.
        for id in [5, 6, 7] {
            story.arrives(id);
        }
        story.resumed(4, 8);
        assert_eq!(story.delivered, [4, 5, 6, 7, 8]);
        assert!(story.gaps.is_empty());
        assert!(!story.seq.is_filling(&room("lobby")));
    }

    #[test]
    fn right_after_a_resume_a_jump_is_a_gap_not_a_fetch() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&room("lobby"));
        seq.anchor(&room("lobby"), 10);
        seq.resuming_from(&room("lobby"), 10);
        assert_eq!(seq.order(&room("lobby"), 15), Order::Next);
        assert_eq!(
            seq.accept(&room("lobby"), 15),
            Accept::Deliver {
                gap_after: Some(10)
            }
        );
        // Said once: the next jump is a hole again.
        assert_eq!(seq.order(&room("lobby"), 17), Order::Hole);
    }

    #[test]
    fn a_resume_whose_first_event_follows_on_is_no_gap() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&channel("ticks"));
        seq.resuming_from(&channel("ticks"), 4);
        assert_eq!(
            seq.accept(&channel("ticks"), 5),
            Accept::Deliver { gap_after: None }
        );
    }

    #[test]
    fn presence_anchors_only_a_fresh_room_and_only_with_a_real_id() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&room("lobby"));
        seq.anchor(&room("lobby"), 0);
        assert_eq!(
            seq.last_seen(&room("lobby")),
            None,
            "0 may be a server that does not say"
        );
        seq.anchor(&room("lobby"), 9);
        assert_eq!(seq.last_seen(&room("lobby")), Some(9));
        seq.anchor(&room("lobby"), 3);
        assert_eq!(
            seq.last_seen(&room("lobby")),
            Some(9),
            "a room with ids keeps them"
        );
        seq.anchor(&room("elsewhere"), 3);
        assert!(!seq.follows(&room("elsewhere")));
    }

    #[test]
    fn a_server_that_restarted_its_numbering_is_followed_from_its_new_ids() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&room("lobby"));
        seq.accept(&room("lobby"), 40);
        seq.resuming_from(&room("lobby"), 40);
        assert!(seq.resumed(&room("lobby"), 40, 2), "no event came between");
        assert_eq!(seq.last_seen(&room("lobby")), Some(2));
        assert_eq!(seq.order(&room("lobby"), 3), Order::Next);

        seq.resuming_from(&room("lobby"), 3);
        seq.resumed(&room("lobby"), 3, 0);
        assert_eq!(
            seq.last_seen(&room("lobby")),
            None,
            "an empty history: anything comes next"
        );
    }

    #[test]
    fn a_new_epoch_voids_every_resume_point_and_says_where_each_ended() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(&channel("ticks"));
        seq.follow(&room("zoo"));
        seq.follow(&room("lobby"));
        seq.follow(&room("quiet"));
        seq.accept(&channel("ticks"), 7);
        seq.accept(&room("zoo"), 3);
        seq.accept(&room("lobby"), 5);
        assert_eq!(
            seq.renumber(),
            [(room("lobby"), 5), (room("zoo"), 3), (channel("ticks"), 7)]
        );
        assert_eq!(
            seq.resume_points(),
            [
                (room("lobby"), Some(0)),
                (room("quiet"), Some(0)),
                (room("zoo"), Some(0)),
                (channel("ticks"), Some(0))
            ]
        );
        assert_eq!(seq.order(&room("zoo"), 1), Order::Next);
    }

    #[test]
    fn a_replay_that_never_comes_is_given_up_after_a_bounded_wait() {
        let mut story = Story::entered(1);
        story.arrives(3);
        for id in 4..(4 + MAX_HELD as u64 - 1) {
            story.arrives(id);
        }
        assert_eq!(
            story.gaps,
            [Some(1)],
            "the loss begins after the last id seen"
        );
        assert_eq!(story.delivered.len(), MAX_HELD);
        assert_eq!(story.delivered.first(), Some(&3));
        assert!(story.delivered.windows(2).all(|w| w[0] + 1 == w[1]));
        assert!(!story.seq.is_filling(&room("lobby")));
    }

    #[test]
    fn leaving_forgets_the_hole_being_fetched() {
        let mut story = Story::entered(1);
        story.arrives(3);
        assert!(story.seq.unfollow(&room("lobby")));
        assert!(!story.seq.unfollow(&room("lobby")), "left once");
        assert!(!story.seq.is_filling(&room("lobby")));
        assert!(story.seq.release(&room("lobby")).is_empty());
    }

    #[test]
    fn a_new_connection_drops_the_held_events_its_resume_replays() {
        let mut story = Story::entered(1);
        story.arrives(3);
        story.seq.connection_changed();
        assert_eq!(story.seq.order(&room("lobby"), 2), Order::Next);
        assert_eq!(story.seq.resume_points(), [(room("lobby"), Some(1))]);
    }

    /// A server whose history holds `base+1..=base+n`, delivering live in any order with
    /// duplicates, and answering each fetch with a replay (then `resumed`) that arrives
    /// interleaved with the live events however `turns` says.
    fn run(base: u64, live: Vec<u64>, turns: Vec<bool>, last: u64) -> Story {
        enum Frame {
            Event(u64),
            Resumed(u64),
        }
        let mut story = Story::entered(base);
        let mut live: VecDeque<u64> = live.into_iter().map(|id| base + id).collect();
        let mut server: VecDeque<Frame> = VecDeque::new();
        let mut turns = turns.into_iter().cycle();
        while !live.is_empty() || !server.is_empty() {
            let from_server =
                server.front().is_some() && (live.is_empty() || turns.next() == Some(true));
            if from_server {
                match server.pop_front().expect("checked") {
                    Frame::Event(id) => story.arrives(id),
                    Frame::Resumed(since) => story.resumed(since, last),
                }
            } else {
                story.arrives(live.pop_front().expect("checked"));
            }
            for since in std::mem::take(&mut story.fetches) {
                server.extend((since + 1..=last).map(Frame::Event));
                server.push_back(Frame::Resumed(since));
            }
        }
        story
    }

    fn arrivals() -> impl Strategy<Value = (u64, Vec<u64>, Vec<bool>)> {
        (1u64..60).prop_flat_map(|n| {
            (
                1u64..1000,
                (
                    Just((1..=n).collect::<Vec<_>>()),
                    prop::collection::vec(1..=n, 0..n as usize),
                )
                    .prop_map(|(all, dups)| all.into_iter().chain(dups).collect::<Vec<_>>())
                    .prop_shuffle(),
                prop::collection::vec(any::<bool>(), 1..16),
            )
        })
    }

    proptest! {
        #[test]
        fn any_arrival_order_is_delivered_once_each_in_order((base, live, turns) in arrivals()) {
            let n = *live.iter().max().expect("at least one");
            let story = run(base, live, turns, base + n);
            prop_assert_eq!(story.delivered, (base + 1..=base + n).collect::<Vec<_>>());
            prop_assert!(story.gaps.is_empty(), "nothing was lost for good: {:?}", story.gaps);
            prop_assert!(!story.seq.is_filling(&room("lobby")));
        }
    }
}
