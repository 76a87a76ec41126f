//! The numbering of every room entered and channel watched: the last id seen in each (both
//! the resume point and the duplicate filter), the resume points still waiting for a first
//! event, and the holes being fetched with the events held meanwhile.
//!
//! Plain state, no I/O: it says where an event stands and what to do; the engine writes the
//! frames and emits the events. A room is named with `watch` false, a channel with `true`
//! (the two are numbered apart, and a name may be both).

use std::collections::{BTreeMap, HashMap};

/// Most events held while a hole is fetched; past this the engine stops waiting.
pub(crate) const MAX_HELD: usize = 4096;

/// Names with the last id seen in each (`None`: nothing seen yet).
pub(crate) type ResumePoints = Vec<(String, Option<u64>)>;

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
    /// Rooms entered, with the last event id seen in each. Ordered: resume writes them so.
    rooms: BTreeMap<String, Option<u64>>,
    /// Channels watched, with the last item id seen in each.
    watches: BTreeMap<String, Option<u64>>,
    /// Rooms and channels re-entered with `since` whose first event has not arrived yet: if it
    /// skips ids, a `Gap` goes right before it, where the UI shows it.
    resuming: HashMap<(bool, String), u64>,
    /// Holes being fetched: the events held meanwhile, with their ids.
    fills: HashMap<(bool, String), Vec<(u64, T)>>,
}

impl<T> Default for Sequencer<T> {
    fn default() -> Self {
        Sequencer {
            rooms: BTreeMap::new(),
            watches: BTreeMap::new(),
            resuming: HashMap::new(),
            fills: HashMap::new(),
        }
    }
}

impl<T> Sequencer<T> {
    fn map(&self, watch: bool) -> &BTreeMap<String, Option<u64>> {
        if watch {
            &self.watches
        } else {
            &self.rooms
        }
    }

    fn map_mut(&mut self, watch: bool) -> &mut BTreeMap<String, Option<u64>> {
        if watch {
            &mut self.watches
        } else {
            &mut self.rooms
        }
    }

    /// Follows a room (`watch` false) or channel; returns where to resume it from (the last
    /// id seen when it is followed already).
    pub(crate) fn follow(&mut self, watch: bool, name: &str) -> Option<u64> {
        *self.map_mut(watch).entry(name.to_owned()).or_insert(None)
    }

    /// Stops following; false when it was not followed. A hole being fetched and a resume
    /// still waiting for its first event are forgotten, so coming back later starts clean.
    pub(crate) fn unfollow(&mut self, watch: bool, name: &str) -> bool {
        let key = (watch, name.to_owned());
        self.fills.remove(&key);
        self.resuming.remove(&key);
        self.map_mut(watch).remove(name).is_some()
    }

    pub(crate) fn follows(&self, watch: bool, name: &str) -> bool {
        self.map(watch).contains_key(name)
    }

    /// Everything followed with its resume point: rooms first, then channels, each by name.
    pub(crate) fn resume_points(&self) -> (ResumePoints, ResumePoints) {
        let list =
            |m: &BTreeMap<String, Option<u64>>| m.iter().map(|(k, v)| (k.clone(), *v)).collect();
        (list(&self.rooms), list(&self.watches))
    }

    pub(crate) fn last_seen(&self, watch: bool, name: &str) -> Option<u64> {
        self.map(watch).get(name).copied().flatten()
    }

    /// The server was asked to replay after `since`: the first event that follows is checked
    /// for skipped ids.
    pub(crate) fn resuming_from(&mut self, watch: bool, name: &str, since: u64) {
        self.resuming.insert((watch, name.to_owned()), since);
    }

    /// Where a room stood when we came in (presence's `last_id`). An event lost right after
    /// (behind Pushpin a subscription is applied asynchronously) is then a hole that gets
    /// fetched, not a silent loss. 0 may just mean a server that does not say.
    pub(crate) fn anchor(&mut self, room: &str, last_id: u64) {
        if let Some(last @ None) = self.rooms.get_mut(room) {
            if last_id > 0 {
                *last = Some(last_id);
            }
        }
    }

    /// A new numbering epoch: every resume point is void, so everything resumes from the start
    /// of what the server has. Returns where each one that had seen ids ended (rooms first).
    pub(crate) fn renumber(&mut self) -> Vec<(String, u64)> {
        let mut ended = Vec::new();
        for (name, last) in self.rooms.iter_mut().chain(self.watches.iter_mut()) {
            if let Some(seen) = last.replace(0) {
                ended.push((name.clone(), seen));
            }
        }
        ended
    }

    /// Where a numbered event stands in its room's (or channel's) sequence.
    pub(crate) fn order(&self, watch: bool, name: &str, id: u64) -> Order {
        if !self.fills.is_empty() && self.fills.contains_key(&(watch, name.to_owned())) {
            return Order::Hold;
        }
        match self.map(watch).get(name) {
            None => Order::Seen,
            Some(None) => Order::Next,
            Some(Some(last)) if id <= *last => Order::Seen,
            Some(Some(last)) if id == last + 1 => Order::Next,
            // Right after a resume a jump means the history did not reach back: `accept`
            // marks it, nothing more can be fetched.
            Some(Some(_)) if self.resuming.contains_key(&(watch, name.to_owned())) => Order::Next,
            Some(Some(_)) => Order::Hole,
        }
    }

    /// Takes a numbered event as delivered unless it was already seen.
    pub(crate) fn accept(&mut self, watch: bool, name: &str, id: u64) -> Accept {
        match self.map_mut(watch).get_mut(name) {
            Some(last) if last.is_none_or(|l| id > l) => *last = Some(id),
            _ => return Accept::Drop,
        }
        let gap_after = self
            .resuming
            .remove(&(watch, name.to_owned()))
            .filter(|since| id > since + 1);
        Accept::Deliver { gap_after }
    }

    pub(crate) fn is_filling(&self, watch: bool, name: &str) -> bool {
        self.fills.contains_key(&(watch, name.to_owned()))
    }

    /// Ids were skipped before `id`: holds it while the hole is fetched; returns the last id
    /// seen, which the fetch resumes from.
    pub(crate) fn start_fill(&mut self, watch: bool, name: &str, id: u64, item: T) -> Option<u64> {
        self.fills
            .insert((watch, name.to_owned()), vec![(id, item)]);
        self.last_seen(watch, name)
    }

    /// Holds an event while its hole is fetched; true when the holding is full and the engine
    /// should [`give_up`](Self::give_up).
    pub(crate) fn hold(&mut self, watch: bool, name: &str, id: u64, item: T) -> bool {
        let held = self
            .fills
            .get_mut(&(watch, name.to_owned()))
            .expect("a fill is pending");
        held.push((id, item));
        held.len() >= MAX_HELD
    }

    /// The replay is not coming (or not soon): stop waiting. Returns the last id seen (where
    /// the loss begins) and the held events in id order.
    pub(crate) fn give_up(&mut self, watch: bool, name: &str) -> (Option<u64>, Vec<T>) {
        let after_id = self.last_seen(watch, name);
        self.resuming.remove(&(watch, name.to_owned()));
        (after_id, self.release(watch, name))
    }

    /// The server's `resumed`: the replay after `since` is complete and its history now ends
    /// at `last_id`. Returns whether the first event after `since` was still awaited.
    pub(crate) fn resumed(&mut self, watch: bool, name: &str, since: u64, last_id: u64) -> bool {
        let waiting = self.resuming.remove(&(watch, name.to_owned())).is_some();
        if last_id < since {
            // The server numbers this from scratch (it restarted, or its history was reset):
            // ids we saw before say nothing about the new ones, so dropping them as duplicates
            // would lose them silently.
            if let Some(last) = self.map_mut(watch).get_mut(name) {
                *last = (last_id > 0).then_some(last_id);
            }
        }
        waiting
    }

    /// Ends a fill: the held events in id order (arrival order among equal ids). Each still
    /// goes through [`accept`](Self::accept), which drops what the replay already delivered.
    pub(crate) fn release(&mut self, watch: bool, name: &str) -> Vec<T> {
        let Some(mut held) = self.fills.remove(&(watch, name.to_owned())) else {
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

    const ROOM: bool = false;
    const CHANNEL: bool = true;

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
            story.seq.follow(ROOM, "lobby");
            story.seq.anchor("lobby", last);
            story
        }

        fn arrives(&mut self, id: u64) {
            match self.seq.order(ROOM, "lobby", id) {
                Order::Seen => {}
                Order::Next => self.deliver(id),
                Order::Hold => {
                    if self.seq.hold(ROOM, "lobby", id, id) {
                        let (after, held) = self.seq.give_up(ROOM, "lobby");
                        self.gaps.push(after);
                        held.into_iter().for_each(|id| self.deliver(id));
                    }
                }
                Order::Hole => {
                    let since = self
                        .seq
                        .start_fill(ROOM, "lobby", id, id)
                        .expect("a hole has a start");
                    self.seq.resuming_from(ROOM, "lobby", since);
                    self.fetches.push(since);
                }
            }
        }

        fn resumed(&mut self, since: u64, last_id: u64) {
            self.seq.resumed(ROOM, "lobby", since, last_id);
            for id in self.seq.release(ROOM, "lobby") {
                self.deliver(id);
            }
        }

        fn deliver(&mut self, id: u64) {
            if let Accept::Deliver { gap_after } = self.seq.accept(ROOM, "lobby", id) {
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
        assert_eq!(seq.follow(ROOM, "lobby"), None);
        assert_eq!(seq.order(ROOM, "lobby", 57), Order::Next);
        assert_eq!(
            seq.accept(ROOM, "lobby", 57),
            Accept::Deliver { gap_after: None }
        );
        assert_eq!(seq.last_seen(ROOM, "lobby"), Some(57));
    }

    #[test]
    fn leaving_during_a_resume_and_coming_back_shows_no_gap() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(ROOM, "lobby");
        seq.resuming_from(ROOM, "lobby", 10);
        assert!(seq.unfollow(ROOM, "lobby"));
        // Entered again fresh: the room's current events are not "after 10".
        seq.follow(ROOM, "lobby");
        assert_eq!(
            seq.accept(ROOM, "lobby", 40),
            Accept::Deliver { gap_after: None }
        );
    }

    #[test]
    fn events_of_a_room_not_followed_are_dropped() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(CHANNEL, "lobby");
        assert_eq!(seq.order(ROOM, "lobby", 1), Order::Seen);
        assert_eq!(seq.accept(ROOM, "lobby", 1), Accept::Drop);
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
        assert!(!story.seq.is_filling(ROOM, "lobby"));
    }

    #[test]
    fn right_after_a_resume_a_jump_is_a_gap_not_a_fetch() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(ROOM, "lobby");
        seq.anchor("lobby", 10);
        seq.resuming_from(ROOM, "lobby", 10);
        assert_eq!(seq.order(ROOM, "lobby", 15), Order::Next);
        assert_eq!(
            seq.accept(ROOM, "lobby", 15),
            Accept::Deliver {
                gap_after: Some(10)
            }
        );
        // Said once: the next jump is a hole again.
        assert_eq!(seq.order(ROOM, "lobby", 17), Order::Hole);
    }

    #[test]
    fn a_resume_whose_first_event_follows_on_is_no_gap() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(CHANNEL, "ticks");
        seq.resuming_from(CHANNEL, "ticks", 4);
        assert_eq!(
            seq.accept(CHANNEL, "ticks", 5),
            Accept::Deliver { gap_after: None }
        );
    }

    #[test]
    fn presence_anchors_only_a_fresh_room_and_only_with_a_real_id() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(ROOM, "lobby");
        seq.anchor("lobby", 0);
        assert_eq!(
            seq.last_seen(ROOM, "lobby"),
            None,
            "0 may be a server that does not say"
        );
        seq.anchor("lobby", 9);
        assert_eq!(seq.last_seen(ROOM, "lobby"), Some(9));
        seq.anchor("lobby", 3);
        assert_eq!(
            seq.last_seen(ROOM, "lobby"),
            Some(9),
            "a room with ids keeps them"
        );
        seq.anchor("elsewhere", 3);
        assert!(!seq.follows(ROOM, "elsewhere"));
    }

    #[test]
    fn a_server_that_restarted_its_numbering_is_followed_from_its_new_ids() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(ROOM, "lobby");
        seq.accept(ROOM, "lobby", 40);
        seq.resuming_from(ROOM, "lobby", 40);
        assert!(seq.resumed(ROOM, "lobby", 40, 2), "no event came between");
        assert_eq!(seq.last_seen(ROOM, "lobby"), Some(2));
        assert_eq!(seq.order(ROOM, "lobby", 3), Order::Next);

        seq.resuming_from(ROOM, "lobby", 3);
        seq.resumed(ROOM, "lobby", 3, 0);
        assert_eq!(
            seq.last_seen(ROOM, "lobby"),
            None,
            "an empty history: anything comes next"
        );
    }

    #[test]
    fn a_new_epoch_voids_every_resume_point_and_says_where_each_ended() {
        let mut seq = Sequencer::<()>::default();
        seq.follow(CHANNEL, "ticks");
        seq.follow(ROOM, "zoo");
        seq.follow(ROOM, "lobby");
        seq.follow(ROOM, "quiet");
        seq.accept(CHANNEL, "ticks", 7);
        seq.accept(ROOM, "zoo", 3);
        seq.accept(ROOM, "lobby", 5);
        assert_eq!(
            seq.renumber(),
            [
                ("lobby".to_owned(), 5),
                ("zoo".to_owned(), 3),
                ("ticks".to_owned(), 7)
            ]
        );
        let (rooms, watches) = seq.resume_points();
        assert_eq!(
            rooms,
            [
                ("lobby".to_owned(), Some(0)),
                ("quiet".to_owned(), Some(0)),
                ("zoo".to_owned(), Some(0))
            ]
        );
        assert_eq!(watches, [("ticks".to_owned(), Some(0))]);
        assert_eq!(seq.order(ROOM, "zoo", 1), Order::Next);
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
        assert!(!story.seq.is_filling(ROOM, "lobby"));
    }

    #[test]
    fn leaving_forgets_the_hole_being_fetched() {
        let mut story = Story::entered(1);
        story.arrives(3);
        assert!(story.seq.unfollow(ROOM, "lobby"));
        assert!(!story.seq.unfollow(ROOM, "lobby"), "left once");
        assert!(!story.seq.is_filling(ROOM, "lobby"));
        assert!(story.seq.release(ROOM, "lobby").is_empty());
    }

    #[test]
    fn a_new_connection_drops_the_held_events_its_resume_replays() {
        let mut story = Story::entered(1);
        story.arrives(3);
        story.seq.connection_changed();
        assert_eq!(story.seq.order(ROOM, "lobby", 2), Order::Next);
        assert_eq!(story.seq.resume_points().0, [("lobby".to_owned(), Some(1))]);
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
            prop_assert!(!story.seq.is_filling(ROOM, "lobby"));
        }
    }
}
