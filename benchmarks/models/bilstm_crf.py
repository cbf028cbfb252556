"""A BiLSTM-CRF tagger: one sentence, a bidirectional LSTM, a Linear layer to tag scores, Viterbi.

After `BiLSTM_CRF` in PyTorch's tutorials, "Advanced: Making Dynamic Decisions and the
Bi-LSTM CRF", beginner_source/nlp/advanced_tutorial.py:
https://github.com/pytorch/tutorials/blob/main/beginner_source/nlp/advanced_tutorial.py
As there: a random initial `(h_0, c_0)` stored on the module, the embedded sentence viewed
as `(token, 1, embedding)` (time-major, a batch of one), the output viewed back to
`(token, hidden)` with the batch axis dropped, emission scores from `hidden2tag`, and
`forward` decoding them with Viterbi over the transition matrix. Only the decoding path
is kept (the tutorial's training loss, `_forward_alg` and `_score_sentence`, is not
called by `forward`).
"""

from __future__ import annotations

import torch
from torch import nn

from . import Stop

__all__ = ["SHAPES", "STOPS", "BiLSTM_CRF", "make"]

START_TAG, STOP_TAG = "<START>", "<STOP>"
TAGS = {"B": 0, "I": 1, "O": 2, START_TAG: 3, STOP_TAG: 4}
SENTENCE = 7


def argmax(vec):
    _, idx = torch.max(vec, 1)
    return idx.view(-1).tolist()[0]


class BiLSTM_CRF(nn.Module):
    def __init__(self, vocab_size=12, tag_to_ix=TAGS, embedding_dim=5, hidden_dim=4):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.tag_to_ix = tag_to_ix
        self.tagset_size = len(tag_to_ix)
        self.word_embeds = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_dim // 2, num_layers=1, bidirectional=True)
        self.hidden2tag = nn.Linear(hidden_dim, self.tagset_size)
        # transitions[i, j]: the score of going to tag i from tag j
        self.transitions = nn.Parameter(torch.randn(self.tagset_size, self.tagset_size))
        self.transitions.data[tag_to_ix[START_TAG], :] = -10000
        self.transitions.data[:, tag_to_ix[STOP_TAG]] = -10000
        self.hidden = self.init_hidden()

    def init_hidden(self):
        return (
            torch.randn(2, 1, self.hidden_dim // 2),
            torch.randn(2, 1, self.hidden_dim // 2),
        )

    def _get_lstm_features(self, sentence):
        self.hidden = self.init_hidden()
        embeds = self.word_embeds(sentence).view(len(sentence), 1, -1)
        lstm_out, self.hidden = self.lstm(embeds, self.hidden)
        lstm_out = lstm_out.view(len(sentence), self.hidden_dim)
        lstm_feats = self.hidden2tag(lstm_out)
        return lstm_feats

    def _viterbi_decode(self, feats):
        backpointers = []
        init_vvars = torch.full((1, self.tagset_size), -10000.0)
        init_vvars[0][self.tag_to_ix[START_TAG]] = 0
        forward_var = init_vvars  # forward_var at step i: the Viterbi variables of step i-1
        for feat in feats:
            bptrs_t = []
            viterbivars_t = []
            for next_tag in range(self.tagset_size):
                next_tag_var = forward_var + self.transitions[next_tag]
                best_tag_id = argmax(next_tag_var)
                bptrs_t.append(best_tag_id)
                viterbivars_t.append(next_tag_var[0][best_tag_id].view(1))
            forward_var = (torch.cat(viterbivars_t) + feat).view(1, -1)
            backpointers.append(bptrs_t)
        terminal_var = forward_var + self.transitions[self.tag_to_ix[STOP_TAG]]
        best_tag_id = argmax(terminal_var)
        path_score = terminal_var[0][best_tag_id]
        best_path = [best_tag_id]
        for bptrs_t in reversed(backpointers):
            best_tag_id = bptrs_t[best_tag_id]
            best_path.append(best_tag_id)
        start = best_path.pop()
        assert start == self.tag_to_ix[START_TAG]
        best_path.reverse()
        return path_score, best_path

    def forward(self, sentence):
        lstm_feats = self._get_lstm_features(sentence)
        score, tag_seq = self._viterbi_decode(lstm_feats)
        return score, tag_seq


def make() -> tuple[BiLSTM_CRF, tuple[object, ...]]:
    """A sentence of 7 word ids; hidden_dim 4, so each direction has 2 units."""
    model = BiLSTM_CRF()
    return model, (torch.randint(0, 12, (SENTENCE,)),)


SHAPES = ((), ["int"] * SENTENCE)
"""The path's score (0-d), then the tag sequence (SENTENCE ints)."""

STOPS = (
    Stop(
        "BiLSTM_CRF._get_lstm_features",
        "return lstm_feats",
        derived=("lstm_out", "lstm_feats"),
        not_counted={"embeds": "the recurrent layer's input"},
    ),
    Stop(
        "BiLSTM_CRF._viterbi_decode",
        "return path_score, best_path",
        derived=("feats", "feat"),
        not_counted={
            "forward_var": "the Viterbi recursion: each entry mixes every token and tag so far",
            "terminal_var": "the Viterbi recursion, as forward_var",
            "next_tag_var": "the Viterbi recursion, as forward_var",
            "path_score": "a 0-d scalar",
            "best_path": "tag ids, a list of ints",
        },
    ),
    Stop(
        "BiLSTM_CRF.forward",
        "return score, tag_seq",
        derived=("lstm_feats",),
        not_counted={"score": "a 0-d scalar", "tag_seq": "tag ids, a list of ints"},
    ),
)
