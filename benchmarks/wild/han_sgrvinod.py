"""Document classification: a Hierarchical Attention Network over packed words and sentences.

After sgrvinod/a-PyTorch-Tutorial-to-Text-Classification, model.py
(`HierarchialAttentionNetwork`, `SentenceAttention`, `WordAttention`; read at 5188388, the
last change to it on master):
https://github.com/sgrvinod/a-PyTorch-Tutorial-to-Text-Classification/blob/master/model.py
As there: documents are packed into their sentences (`pack_padded_sequence` of the id
tensor itself, `enforce_sorted=False`; its `.data` is the sentences), sentences into their
words; the word GRU runs on the packed words and the sentence GRU on a `PackedSequence(
data=sentences, batch_sizes=..., sorted_indices=..., unsorted_indices=...)` rebuilt by
hand from the sentence packing; attention is computed on the packed `.data` rows,
exponentiated, re-padded with `pad_packed_sequence(PackedSequence(data=att_w, ...))` and
divided by its sum over the valid words (a masked softmax by packing); pooling is
`(sentences * word_alphas.unsqueeze(2)).sum(dim=1)`. No known bug in this revision (an
older one, 42bb25f, sorted by hand and unpacked PackedSequences into two fields, which
fails since they have four).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import WildStop

__all__ = ["SHAPES", "STOPS", "HierarchialAttentionNetwork", "make"]

CLASSES, VOCAB, EMB, WORD_RNN, SENT_RNN, ATT = 3, 12, 4, 3, 2, 4
SENTENCES_PER_DOCUMENT = (2, 3, 1)  # unsorted: packed with enforce_sorted=False
WORDS_PER_SENTENCE = ((3, 5, 0), (4, 2, 1), (2, 0, 0))
N_DOCS, SENT_PAD, WORD_PAD = 3, 3, 5


class HierarchialAttentionNetwork(nn.Module):
    def __init__(
        self,
        n_classes=CLASSES,
        vocab_size=VOCAB,
        emb_size=EMB,
        word_rnn_size=WORD_RNN,
        sentence_rnn_size=SENT_RNN,
        word_rnn_layers=1,
        sentence_rnn_layers=1,
        word_att_size=ATT,
        sentence_att_size=ATT,
        dropout=0.5,
    ):
        super().__init__()
        self.sentence_attention = SentenceAttention(
            vocab_size, emb_size, word_rnn_size, sentence_rnn_size, word_rnn_layers,
            sentence_rnn_layers, word_att_size, sentence_att_size, dropout,
        )  # fmt: skip
        self.fc = nn.Linear(2 * sentence_rnn_size, n_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, documents, sentences_per_document, words_per_sentence):
        document_embeddings, word_alphas, sentence_alphas = self.sentence_attention(
            documents, sentences_per_document, words_per_sentence
        )
        scores = self.fc(self.dropout(document_embeddings))  # (n_documents, n_classes)
        return scores, word_alphas, sentence_alphas


class SentenceAttention(nn.Module):
    def __init__(
        self, vocab_size, emb_size, word_rnn_size, sentence_rnn_size, word_rnn_layers,
        sentence_rnn_layers, word_att_size, sentence_att_size, dropout,
    ):  # fmt: skip
        super().__init__()
        self.word_attention = WordAttention(
            vocab_size, emb_size, word_rnn_size, word_rnn_layers, word_att_size, dropout
        )
        self.sentence_rnn = nn.GRU(
            2 * word_rnn_size,
            sentence_rnn_size,
            num_layers=sentence_rnn_layers,
            bidirectional=True,
            dropout=dropout if sentence_rnn_layers > 1 else 0,
            batch_first=True,
        )
        self.sentence_attention = nn.Linear(2 * sentence_rnn_size, sentence_att_size)
        self.sentence_context_vector = nn.Linear(sentence_att_size, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, documents, sentences_per_document, words_per_sentence):
        # Re-arrange as sentences by removing sentence-pads (DOCUMENTS -> SENTENCES)
        packed_sentences = pack_padded_sequence(
            documents,
            lengths=sentences_per_document.tolist(),
            batch_first=True,
            enforce_sorted=False,
        )  # 'data' is the flattened sentences (n_sentences, word_pad_len)

        # Re-arrange sentence lengths in the same way (DOCUMENTS -> SENTENCES)
        packed_words_per_sentence = pack_padded_sequence(
            words_per_sentence,
            lengths=sentences_per_document.tolist(),
            batch_first=True,
            enforce_sorted=False,
        )  # 'data' is the flattened sentence lengths (n_sentences)

        # Find sentence embeddings by applying the word-level attention module
        sentences, word_alphas = self.word_attention(
            packed_sentences.data, packed_words_per_sentence.data
        )  # (n_sentences, 2 * word_rnn_size), (n_sentences, max(words_per_sentence))
        sentences = self.dropout(sentences)

        # Apply the sentence-level RNN over the sentence embeddings, re-packed by hand
        packed_sentences, _ = self.sentence_rnn(
            PackedSequence(
                data=sentences,
                batch_sizes=packed_sentences.batch_sizes,
                sorted_indices=packed_sentences.sorted_indices,
                unsorted_indices=packed_sentences.unsorted_indices,
            )
        )  # 'data' is the output of the RNN (n_sentences, 2 * sentence_rnn_size)

        att_s = self.sentence_attention(packed_sentences.data)  # (n_sentences, att_size)
        att_s = torch.tanh(att_s)
        att_s = self.sentence_context_vector(att_s).squeeze(1)  # (n_sentences)

        # Softmax over the sentences of each document, by hand
        max_value = att_s.max()  # scalar, for numerical stability
        att_s = torch.exp(att_s - max_value)  # (n_sentences)

        # Re-arrange as documents by re-padding with 0s (SENTENCES -> DOCUMENTS)
        att_s, _ = pad_packed_sequence(
            PackedSequence(
                data=att_s,
                batch_sizes=packed_sentences.batch_sizes,
                sorted_indices=packed_sentences.sorted_indices,
                unsorted_indices=packed_sentences.unsorted_indices,
            ),
            batch_first=True,
        )  # (n_documents, max(sentences_per_document))
        sentence_alphas = att_s / torch.sum(att_s, dim=1, keepdim=True)

        # Similarly re-arrange sentence-level RNN outputs as documents (SENTENCES -> DOCUMENTS)
        documents, _ = pad_packed_sequence(packed_sentences, batch_first=True)

        # Find document embeddings
        documents = documents * sentence_alphas.unsqueeze(2)
        documents = documents.sum(dim=1)  # (n_documents, 2 * sentence_rnn_size)

        # Also re-arrange word_alphas (SENTENCES -> DOCUMENTS)
        word_alphas, _ = pad_packed_sequence(
            PackedSequence(
                data=word_alphas,
                batch_sizes=packed_sentences.batch_sizes,
                sorted_indices=packed_sentences.sorted_indices,
                unsorted_indices=packed_sentences.unsorted_indices,
            ),
            batch_first=True,
        )  # (n_documents, max(sentences_per_document), max(words_per_sentence))

        return documents, word_alphas, sentence_alphas


class WordAttention(nn.Module):
    def __init__(
        self, vocab_size, emb_size, word_rnn_size, word_rnn_layers, word_att_size, dropout
    ):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, emb_size)
        self.word_rnn = nn.GRU(
            emb_size,
            word_rnn_size,
            num_layers=word_rnn_layers,
            bidirectional=True,
            dropout=dropout if word_rnn_layers > 1 else 0,
            batch_first=True,
        )
        self.word_attention = nn.Linear(2 * word_rnn_size, word_att_size)
        self.word_context_vector = nn.Linear(word_att_size, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, sentences, words_per_sentence):
        # Get word embeddings, apply dropout
        sentences = self.dropout(self.embeddings(sentences))  # (n_sentences, word_pad_len, emb)

        # Re-arrange as words by removing word-pads (SENTENCES -> WORDS)
        packed_words = pack_padded_sequence(
            sentences, lengths=words_per_sentence.tolist(), batch_first=True, enforce_sorted=False
        )  # 'data' is the flattened words (n_words, word_emb)

        # Apply the word-level RNN over the word embeddings
        packed_words, _ = self.word_rnn(packed_words)  # 'data': (n_words, 2 * word_rnn_size)

        att_w = self.word_attention(packed_words.data)  # (n_words, att_size)
        att_w = torch.tanh(att_w)
        att_w = self.word_context_vector(att_w).squeeze(1)  # (n_words)

        # Softmax over the words of each sentence, by hand
        max_value = att_w.max()  # scalar, for numerical stability
        att_w = torch.exp(att_w - max_value)  # (n_words)

        # Re-arrange as sentences by re-padding with 0s (WORDS -> SENTENCES)
        att_w, _ = pad_packed_sequence(
            PackedSequence(
                data=att_w,
                batch_sizes=packed_words.batch_sizes,
                sorted_indices=packed_words.sorted_indices,
                unsorted_indices=packed_words.unsorted_indices,
            ),
            batch_first=True,
        )  # (n_sentences, max(words_per_sentence))
        word_alphas = att_w / torch.sum(att_w, dim=1, keepdim=True)

        # Similarly re-arrange word-level RNN outputs as sentences (WORDS -> SENTENCES)
        sentences, _ = pad_packed_sequence(packed_words, batch_first=True)

        # Find sentence embeddings
        sentences = sentences * word_alphas.unsqueeze(2)
        sentences = sentences.sum(dim=1)  # (n_sentences, 2 * word_rnn_size)

        return sentences, word_alphas


def make() -> tuple[HierarchialAttentionNetwork, tuple[object, ...]]:
    """Three documents of 2, 3 and 1 sentences of up to 5 words (zero-padded); training mode."""
    documents = torch.zeros(N_DOCS, SENT_PAD, WORD_PAD, dtype=torch.long)
    for d, lengths in enumerate(WORDS_PER_SENTENCE):
        for s, n in enumerate(lengths):
            documents[d, s, :n] = torch.randint(1, VOCAB, (n,))
    return HierarchialAttentionNetwork(), (
        documents,
        torch.tensor(SENTENCES_PER_DOCUMENT),
        torch.tensor(WORDS_PER_SENTENCE),
    )


_MAX_WORDS = max(max(row) for row in WORDS_PER_SENTENCE)
SHAPES = ((N_DOCS, CLASSES), (N_DOCS, max(SENTENCES_PER_DOCUMENT), _MAX_WORDS), (N_DOCS, 3))
"""scores (document, class), word_alphas (document, sentence, word), sentence_alphas
(document, sentence)."""

_PACKED = "packed: the valid steps only"
STOPS = (
    WildStop(  # the only call: every sentence of the batch at once
        "WordAttention.forward",
        "return sentences, word_alphas",
        expected={
            "packed_words": "batch token (direction hidden)",
            "att_w": "batch token",
            "word_alphas": "batch token",
            "sentences": "batch (direction hidden)",
        },
        notes={
            "packed_words": "word_rnn's output; batch = sentences, token = words; " + _PACKED,
            "att_w": "exp of the attention scores, re-padded: 0 past each sentence's words",
            "word_alphas": "softmax over each sentence's words, 0 at padding",
            "sentences": "rebound: attention-pooled word_rnn output, one row per sentence "
            "(in the order of the sentence-level packing)",
        },
        not_counted={
            "words_per_sentence": "the lengths",
            "max_value": "a 0-d scalar",
        },
    ),
    WildStop(
        "SentenceAttention.forward",
        "return documents, word_alphas, sentence_alphas",
        expected={
            "sentences": "batch (direction hidden)",
            "packed_sentences": "batch token (direction hidden)",
            "att_s": "batch token",
            "sentence_alphas": "batch token",
            "documents": "batch (direction hidden)",
            "word_alphas": "batch token word_rnn.token",
        },
        notes={
            "sentences": "word-attention-pooled sentences, dropout: word_rnn's batch axis; "
            "as sentence_rnn's packed input its rows are (token batch) steps",
            "packed_sentences": "rebound: sentence_rnn's output; batch = documents, "
            "token = sentences; " + _PACKED,
            "att_s": "exp of the attention scores, re-padded: 0 past each document's sentences",
            "sentence_alphas": "softmax over each document's sentences, 0 at padding",
            "documents": "rebound: attention-pooled sentence_rnn output per document",
            "word_alphas": "word attention re-padded from sentences to (document, sentence): "
            "word_rnn's batch axis split into sentence_rnn's (batch token); 0 at padding",
        },
        not_counted={
            "packed_words_per_sentence": "the lengths, packed",
            "sentences_per_document": "the lengths",
            "words_per_sentence": "the lengths",
            "max_value": "a 0-d scalar",
        },
    ),
    WildStop(
        "HierarchialAttentionNetwork.forward",
        "return scores, word_alphas, sentence_alphas",
        expected={
            "document_embeddings": "batch (direction hidden)",
            "word_alphas": "batch token word_rnn.token",
            "sentence_alphas": "batch token",
            "scores": "batch feature",
        },
        notes={
            "document_embeddings": "attention-pooled sentence_rnn output per document",
            "word_alphas": "per document, sentence and word; 0 at padding",
            "sentence_alphas": "per document and sentence; 0 at padding",
            "scores": "class scores (fc)",
        },
        not_counted={
            "documents": "the word ids, an input",
            "sentences_per_document": "the lengths",
            "words_per_sentence": "the lengths",
        },
    ),
)
