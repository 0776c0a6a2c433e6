"""Factories for the --module tests of export_graph.py (a user's own model file)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GptBlock(nn.Module):
    """nanoGPT-style block: B, T, C = x.size() and q, k, v = qkv.chunk(3)."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.heads = heads
        self.ln = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.qkv(self.ln(x)).chunk(3, dim=-1)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = F.softmax(q @ k.transpose(-2, -1) * (C // self.heads) ** -0.5, dim=-1)
        return x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


def gpt_block():
    return GptBlock()


class Router(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(16, 4)

    def forward(self, x):
        weights, experts = torch.topk(self.gate(x), 2, dim=-1)
        return weights


class Moe(nn.Module):
    def __init__(self):
        super().__init__()
        self.router = Router()

    def forward(self, x):
        return self.router(x)


def moe():
    return Moe()


def broken():
    raise ValueError("hidden size must be even")


def not_a_module():
    return 42
