// Wrapper of contracts/admin_proxy.fc: a contract admin for the ComplianceGate tests.

import { Address, beginCell, Cell, Contract, contractAddress, ContractProvider, Sender, SendMode } from '@ton/core';
import { Op } from './Constants';

// admin_proxy_storage$_ owner:MsgAddressInt = AdminProxyStorage;
export type AdminProxyConfig = { owner: Address };

export class AdminProxy implements Contract {
    constructor(
        readonly address: Address,
        readonly init?: { code: Cell; data: Cell },
    ) {}

    static createFromConfig(config: AdminProxyConfig, code: Cell, workchain = 0) {
        const init = { code, data: beginCell().storeAddress(config.owner).endCell() };
        return new AdminProxy(contractAddress(workchain, init), init);
    }

    // proxy_send#4b03b3d5 query_id:uint64 destination:MsgAddressInt body:^Cell = InternalMsgBody;
    static proxySendMessage(destination: Address, body: Cell, queryId = 0n): Cell {
        return beginCell().storeUint(Op.proxySend, 32).storeUint(queryId, 64).storeAddress(destination).storeRef(body).endCell();
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Cell.EMPTY });
    }

    async sendProxy(provider: ContractProvider, via: Sender, value: bigint, destination: Address, body: Cell) {
        await provider.internal(via, {
            value,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            body: AdminProxy.proxySendMessage(destination, body),
        });
    }

    async getOwner(provider: ContractProvider) {
        const { stack } = await provider.get('get_owner', []);
        return stack.readAddress();
    }
}
